import Foundation
import Security

/// The core's `SecureStore` in the Keychain: one generic-password item per entry, under
/// `service` and the entry's name as the account.
///
/// Items are readable after the first unlock following a boot (the core reads its state when
/// the app starts, possibly in the background) and never leave this device: no iCloud Keychain,
/// no backup restored elsewhere. Each write is a single `SecItemUpdate`, or a `SecItemAdd` for a
/// new entry, so the Keychain holds the old or the new value and nothing in between.
public final class KeychainSecureStore: SecureStore, @unchecked Sendable {
    /// The default service: the app's bundle identifier followed by `.ibkey`.
    public static var defaultService: String {
        (Bundle.main.bundleIdentifier ?? "io.ibkey") + ".ibkey"
    }

    private let service: String
    private let accessGroup: String?
    /// Serialises writes, so that an update racing an add cannot fail with a duplicate.
    private let lock = NSLock()

    /// A store under `service`, shared with the app extensions of `accessGroup` if given.
    public init(service: String = KeychainSecureStore.defaultService, accessGroup: String? = nil) {
        self.service = service
        self.accessGroup = accessGroup
    }

    public func load(key: String) throws -> Data? {
        var query = itemQuery(key)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            guard let data = result as? Data else { throw StoreError.Corrupt(key: key) }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw StoreError.Unreadable(reason: Self.describe(status))
        }
    }

    public func save(key: String, value: Data) throws {
        lock.lock()
        defer { lock.unlock() }
        let query = itemQuery(key)
        let attributes: [String: Any] = [
            kSecValueData as String: value,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
        ]
        var status = SecItemUpdate(query as CFDictionary, attributes as CFDictionary)
        if status == errSecItemNotFound {
            let item = query.merging(attributes) { _, new in new }
            status = SecItemAdd(item as CFDictionary, nil)
            if status == errSecDuplicateItem {
                // Another store on the same service added it first: replace its value.
                status = SecItemUpdate(query as CFDictionary, attributes as CFDictionary)
            }
        }
        guard status == errSecSuccess else {
            throw StoreError.WriteFailed(reason: Self.describe(status))
        }
    }

    public func remove(key: String) throws {
        lock.lock()
        defer { lock.unlock() }
        let status = SecItemDelete(itemQuery(key) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw StoreError.WriteFailed(reason: Self.describe(status))
        }
    }

    private func itemQuery(_ key: String) -> [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: key,
            // The iOS-style keychain on macOS too (always the case on iOS).
            kSecUseDataProtectionKeychain as String: true,
        ]
        if let accessGroup = self.accessGroup {
            query[kSecAttrAccessGroup as String] = accessGroup
        }
        return query
    }

    /// The status and Security's words for it, such as "OSStatus -25308: User interaction is
    /// not allowed." (the phone has not been unlocked since it started).
    static func describe(_ status: OSStatus) -> String {
        let text = SecCopyErrorMessageString(status, nil) as String? ?? "unknown error"
        return "OSStatus \(status): \(text)"
    }
}
