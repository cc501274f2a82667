import Foundation
import Security

/// The core's `SecureStore` in the Keychain: one generic-password item per entry, under
/// `service` and the entry's name as the account.
///
/// Items are readable after the first unlock following a boot (the core reads its state when
/// the app starts, possibly in the background) and never leave this device: no iCloud Keychain,
/// no backup restored elsewhere. Each write is a single `SecItemUpdate`, or a `SecItemAdd` for a
/// new entry, so the Keychain holds the old or the new value and nothing in between.
///
/// The store's generation is one more item, under the service `<service>.generation`. The
/// store's lock is a lock shared by every instance on the same service in this process, plus,
/// when `lockFile` is given (a file in the app group's container), an `flock` on it, so the app
/// and its extensions (a notification service extension approving from a notification) take
/// turns.
public final class KeychainSecureStore: SecureStore, @unchecked Sendable {
    /// The default service: the app's bundle identifier followed by `.ibkey`.
    public static var defaultService: String {
        (Bundle.main.bundleIdentifier ?? "io.ibkey") + ".ibkey"
    }

    private let service: String
    private let accessGroup: String?
    /// Serialises writes, so that an update racing an add cannot fail with a duplicate.
    private let writeLock = NSLock()

    private let lockFile: URL?
    /// The open, `flock`ed lock file while this instance holds the store's lock.
    private var lockDescriptor: Int32 = -1

    /// One lock per service, shared by every instance in this process.
    private static let processLocks = NSLock()
    nonisolated(unsafe) private static var locksByService: [String: NSLock] = [:]

    /// A store under `service`, shared with the app extensions of `accessGroup` if given; with
    /// `lockFile` (in the container shared with those extensions), their processes take turns
    /// at the store's lock too.
    public init(
        service: String = KeychainSecureStore.defaultService,
        accessGroup: String? = nil,
        lockFile: URL? = nil
    ) {
        self.service = service
        self.accessGroup = accessGroup
        self.lockFile = lockFile
    }

    public func generation() throws -> UInt64 {
        guard let data = try item(generationQuery()) else { return 0 }
        guard data.count == 8 else { throw StoreError.Corrupt(key: "generation") }
        return data.reduce(0) { ($0 << 8) | UInt64($1) }
    }

    public func raiseGeneration(generation: UInt64) throws {
        let current = try self.generation()
        if generation < current {
            throw StoreError.WriteFailed(reason: "the store's generation cannot go down")
        }
        if generation == current { return }
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: generation >> (8 * (7 - $0))) }
        try write(generationQuery(), Data(bytes))
    }

    public func lock() throws {
        let shared = Self.sharedLock(for: service)
        shared.lock()
        guard let lockFile else { return }
        let fd = open(lockFile.path, O_RDWR | O_CREAT, 0o600)
        guard fd >= 0, flock(fd, LOCK_EX) == 0 else {
            let reason = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            shared.unlock()
            throw StoreError.Unreadable(reason: "locking \(lockFile.path): \(reason)")
        }
        lockDescriptor = fd
    }

    public func unlock() throws {
        if lockDescriptor >= 0 {
            close(lockDescriptor) // closing the file releases its flock
            lockDescriptor = -1
        }
        Self.sharedLock(for: service).unlock()
    }

    private static func sharedLock(for service: String) -> NSLock {
        processLocks.lock()
        defer { processLocks.unlock() }
        if let existing = locksByService[service] { return existing }
        let made = NSLock()
        locksByService[service] = made
        return made
    }

    private func generationQuery() -> [String: Any] {
        var query = itemQuery("generation")
        query[kSecAttrService as String] = service + ".generation"
        return query
    }

    public func load(key: String) throws -> Data? {
        try item(itemQuery(key))
    }

    public func save(key: String, value: Data) throws {
        try write(itemQuery(key), value)
    }

    /// The data of the item `query` finds, or `nil` when there is none.
    private func item(_ query: [String: Any]) throws -> Data? {
        let key = query[kSecAttrAccount as String] as? String ?? ""
        var query = query
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

    /// Replaces (or adds) the value of the item `query` finds.
    private func write(_ query: [String: Any], _ value: Data) throws {
        writeLock.lock()
        defer { writeLock.unlock() }
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
        writeLock.lock()
        defer { writeLock.unlock() }
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
