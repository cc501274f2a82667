import CryptoKit
import Foundation
import LocalAuthentication
import Security

/// The core's `KeyVault` in the Secure Enclave: P-256 keys whose private half never leaves it.
///
/// With `requireBiometry` (for `VerificationMethod.biometric`) a key can only sign after Face ID
/// or Touch ID, with the biometrics enrolled when it was made (`.biometryCurrentSet`): enrolling
/// another face or finger, or removing them all, makes the key unusable for good, and the vault
/// then reports `KeyError.Invalidated`. Pass the same `AuthenticationSession` as the
/// `LocalAuthVerifier`'s, so the check the core asks for just before signing unlocks the key;
/// without a recent check, the system asks itself. Without `requireBiometry` (for the PIN
/// method, where the core checks the app PIN) keys need only an unlocked device.
///
/// Where there is no Secure Enclave (the simulator, Intel Macs without a T2 chip), or with
/// `preferSecureEnclave: false`, the keys are software P-256 keys in the Keychain with the same
/// access control: for development and tests only, see `isHardwareBacked`.
///
/// Keys are Keychain items tagged `tagPrefix + alias`; `listKeys()` finds them again after the
/// app was deleted and installed again (the Keychain keeps its items), so the core can recover
/// their accounts. The public key is the 65-byte X9.63 (SEC1 uncompressed) form, signatures are
/// ECDSA over SHA-256 in ASN.1 DER.
public final class SecureEnclaveKeyVault: KeyVault, @unchecked Sendable {
    /// Whether the keys are in the Secure Enclave.
    public let isHardwareBacked: Bool
    private let tagPrefix: String
    private let requireBiometry: Bool
    private let session: AuthenticationSession?
    private let promptReason: String

    public init(
        tagPrefix: String = "io.ibkey.device.",
        requireBiometry: Bool = true,
        session: AuthenticationSession? = nil,
        preferSecureEnclave: Bool = true,
        promptReason: String = "Confirm it's you"
    ) {
        self.tagPrefix = tagPrefix
        self.requireBiometry = requireBiometry
        self.session = session
        self.promptReason = promptReason
        isHardwareBacked = preferSecureEnclave && SecureEnclave.isAvailable
    }

    public func createKey(alias: String) throws -> Data {
        let tag = self.tag(alias)
        if try exists(tag) {
            throw KeyError.Failed(reason: "a device key named \(alias) already exists")
        }
        var flags: SecAccessControlCreateFlags = []
        if isHardwareBacked { flags.insert(.privateKeyUsage) }
        if requireBiometry { flags.insert(.biometryCurrentSet) }
        // With biometry the keys also go when the passcode is removed.
        let accessible = requireBiometry
            ? kSecAttrAccessibleWhenPasscodeSetThisDeviceOnly
            : kSecAttrAccessibleWhenUnlockedThisDeviceOnly
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(kCFAllocatorDefault, accessible, flags, &error) else {
            throw KeyError.Failed(reason: Self.describe(error))
        }
        var attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecUseDataProtectionKeychain as String: true,
            kSecPrivateKeyAttrs as String: [
                kSecAttrIsPermanent as String: true,
                kSecAttrApplicationTag as String: tag,
                kSecAttrAccessControl as String: access,
            ] as [String: Any],
        ]
        if isHardwareBacked {
            attributes[kSecAttrTokenID as String] = kSecAttrTokenIDSecureEnclave
        }
        guard let privateKey = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw KeyError.Failed(reason: Self.describe(error))
        }
        do {
            return try Self.publicKey(of: privateKey)
        } catch {
            try? deleteKey(alias: alias)
            throw error
        }
    }

    /// Every device key tagged with `tagPrefix`, with its public key; found without a prompt
    /// (reading a key's public half needs no Face ID or Touch ID).
    public func listKeys() throws -> [StoredKey] {
        let silent = LAContext()
        silent.interactionNotAllowed = true
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrKeyClass as String: kSecAttrKeyClassPrivate,
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecUseDataProtectionKeychain as String: true,
            kSecMatchLimit as String: kSecMatchLimitAll,
            kSecReturnAttributes as String: true,
            kSecReturnRef as String: true,
            kSecUseAuthenticationContext as String: silent,
        ]
        var items: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &items)
        switch status {
        case errSecSuccess:
            break
        case errSecItemNotFound:
            return []
        default:
            throw KeyError.Failed(reason: KeychainSecureStore.describe(status))
        }
        guard let found = items as? [[String: Any]] else {
            throw KeyError.Failed(reason: "the Keychain returned something other than a list of keys")
        }
        // The Keychain cannot match a tag by its prefix: every EC key of the app is read, and
        // those of this vault kept.
        return try found.compactMap { item -> StoredKey? in
            guard let tag = item[kSecAttrApplicationTag as String] as? Data,
                  let name = String(data: tag, encoding: .utf8),
                  name.hasPrefix(tagPrefix),
                  let ref = item[kSecValueRef as String],
                  CFGetTypeID(ref as CFTypeRef) == SecKeyGetTypeID()
            else { return nil }
            let key = ref as! SecKey // swiftlint:disable:this force_cast (type checked above)
            return StoredKey(alias: String(name.dropFirst(tagPrefix.count)), publicKey: try Self.publicKey(of: key))
        }
    }

    /// The X9.63 (SEC1 uncompressed) public key of `privateKey`: 65 bytes starting with 0x04.
    static func publicKey(of privateKey: SecKey) throws -> Data {
        var error: Unmanaged<CFError>?
        guard let publicKey = SecKeyCopyPublicKey(privateKey),
              let external = SecKeyCopyExternalRepresentation(publicKey, &error) as Data?
        else {
            throw KeyError.Failed(reason: describe(error))
        }
        guard external.count == 65, external.first == 0x04 else {
            throw KeyError.Failed(reason: "unexpected public key form (\(external.count) bytes)")
        }
        return external
    }

    public func sign(alias: String, message: Data) throws -> Data {
        var query = keyQuery(tag(alias))
        query[kSecReturnRef as String] = true
        let verified = session?.recentContext()
        if let context = verified ?? promptContext() {
            // Key operations through this reference use the context: no second prompt after
            // a recent check, or this reason on the prompt the system shows otherwise.
            query[kSecUseAuthenticationContext as String] = context
        }
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            break
        case errSecItemNotFound:
            throw KeyError.NotFound
        default:
            throw KeyError.Failed(reason: KeychainSecureStore.describe(status))
        }
        guard let item, CFGetTypeID(item) == SecKeyGetTypeID() else {
            throw KeyError.Failed(reason: "the Keychain returned something other than a key")
        }
        let key = item as! SecKey // swiftlint:disable:this force_cast (type checked above)
        var error: Unmanaged<CFError>?
        guard let signature = SecKeyCreateSignature(
            key, .ecdsaSignatureMessageX962SHA256, message as CFData, &error
        ) as Data? else {
            throw Self.signingError(error, afterVerification: verified != nil)
        }
        return signature
    }

    public func deleteKey(alias: String) throws {
        let status = SecItemDelete(keyQuery(tag(alias)) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw KeyError.Failed(reason: KeychainSecureStore.describe(status))
        }
    }

    private func tag(_ alias: String) -> Data {
        Data((tagPrefix + alias).utf8)
    }

    private func keyQuery(_ tag: Data) -> [String: Any] {
        [
            kSecClass as String: kSecClassKey,
            kSecAttrKeyClass as String: kSecAttrKeyClassPrivate,
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrApplicationTag as String: tag,
            kSecUseDataProtectionKeychain as String: true,
        ]
    }

    private func exists(_ tag: Data) throws -> Bool {
        var query = keyQuery(tag)
        let silent = LAContext()
        silent.interactionNotAllowed = true // a lookup, never a prompt
        query[kSecUseAuthenticationContext as String] = silent
        let status = SecItemCopyMatching(query as CFDictionary, nil)
        switch status {
        case errSecSuccess, errSecInteractionNotAllowed: return true
        case errSecItemNotFound: return false
        default: throw KeyError.Failed(reason: KeychainSecureStore.describe(status))
        }
    }

    /// A fresh context carrying the prompt's reason, for keys bound to biometry.
    private func promptContext() -> LAContext? {
        guard requireBiometry else { return nil }
        let context = LAContext()
        context.localizedReason = promptReason
        return context
    }

    /// What a failed signature means. A key that refuses a context which has just passed
    /// Face ID or Touch ID is one whose biometric set changed (`.biometryCurrentSet`), as is
    /// one asking for biometrics when none are enrolled any more.
    static func signingError(_ error: Unmanaged<CFError>?, afterVerification: Bool) -> KeyError {
        guard let error = error?.takeRetainedValue() else {
            return .Failed(reason: "the key could not sign")
        }
        let nsError = error as Error as NSError
        let reason = "\(nsError.domain) \(nsError.code): \(nsError.localizedDescription)"
        if nsError.domain == LAErrorDomain, nsError.code == LAError.Code.biometryNotEnrolled.rawValue {
            return .Invalidated
        }
        if nsError.domain == NSOSStatusErrorDomain, nsError.code == Int(errSecAuthFailed), afterVerification {
            return .Invalidated
        }
        return .Failed(reason: reason)
    }

    static func describe(_ error: Unmanaged<CFError>?) -> String {
        guard let error = error?.takeRetainedValue() else { return "unknown Security error" }
        let nsError = error as Error as NSError
        return "\(nsError.domain) \(nsError.code): \(nsError.localizedDescription)"
    }
}
