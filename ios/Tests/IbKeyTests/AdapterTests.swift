import CryptoKit
import Foundation
import LocalAuthentication
import XCTest
@testable import IbKey

/// The iOS adapters on their own: the transport against the reference server, the Keychain
/// store and the key vault where this test process may use the Keychain, the LocalAuthentication
/// outcome mapping everywhere.
final class AdapterTests: XCTestCase {
    func testTheTransportReturnsEveryReplyAndFailsOnlyWithoutOne() async throws {
        let server = try TestServer.fromEnvironment()
        let transport = URLSessionTransport()

        let healthy = try await transport.send(request: HttpRequest(method: "GET", url: server.url + "/healthz", headers: [], body: Data()))
        XCTAssertEqual(healthy.status, 200)
        XCTAssertEqual(String(decoding: healthy.body, as: UTF8.self), "ok")
        XCTAssertTrue(healthy.headers.allSatisfy { $0.name == $0.name.lowercased() })

        let refused = try await transport.send(request: HttpRequest(
            method: "POST",
            url: server.url + "/v1/activation/lookup",
            headers: [HttpHeader(name: "content-type", value: "application/json")],
            body: Data("{}".utf8)
        ))
        XCTAssertEqual(refused.status, 400, "an error reply is a reply, for the core to read")

        do {
            _ = try await transport.send(request: HttpRequest(method: "GET", url: "http://127.0.0.1:1/", headers: [], body: Data()))
            XCTFail("nothing listens on port 1")
        } catch let error as TransportError {
            guard case .Unreachable = error else { return XCTFail("\(error)") }
        }
    }

    func testTheKeychainStoreKeepsReplacesAndRemovesEntries() throws {
        let store = KeychainSecureStore(service: "io.ibkey.tests.\(UUID().uuidString)")
        do {
            try store.save(key: "probe", value: Data([1]))
            try store.remove(key: "probe")
        } catch {
            try skipWithoutKeychain(error)
            throw error
        }
        XCTAssertNil(try store.load(key: "accounts"))
        try store.save(key: "accounts", value: Data("one".utf8))
        XCTAssertEqual(try store.load(key: "accounts"), Data("one".utf8))
        try store.save(key: "accounts", value: Data("two".utf8))
        XCTAssertEqual(try store.load(key: "accounts"), Data("two".utf8))
        XCTAssertNil(try store.load(key: "gate"), "entries are apart")
        try store.remove(key: "accounts")
        XCTAssertNil(try store.load(key: "accounts"))
        try store.remove(key: "accounts") // removing a missing entry is fine
    }

    func testTheKeyVaultMakesP256KeysWhoseDerSignaturesVerify() throws {
        // Software keys in the Keychain, without biometry: what the simulator and Macs without
        // a Secure Enclave get, and the same encodings as the enclave's.
        let vault = SecureEnclaveKeyVault(
            tagPrefix: "io.ibkey.tests.\(UUID().uuidString).",
            requireBiometry: false,
            preferSecureEnclave: false
        )
        XCTAssertFalse(vault.isHardwareBacked)
        let publicKey: Data
        do {
            publicKey = try vault.createKey(alias: "k1")
        } catch {
            try skipWithoutKeychain(error)
            throw error
        }
        defer { try? vault.deleteKey(alias: "k1") }
        XCTAssertEqual(publicKey.count, 65)
        XCTAssertEqual(publicKey.first, 0x04)

        let message = Data("ibkey activation proof".utf8)
        let der = try vault.sign(alias: "k1", message: message)
        let key = try P256.Signing.PublicKey(x963Representation: publicKey)
        let signature = try P256.Signing.ECDSASignature(derRepresentation: der)
        XCTAssertTrue(key.isValidSignature(signature, for: message))

        XCTAssertThrowsError(try vault.createKey(alias: "k1"), "one key per alias")
        try vault.deleteKey(alias: "k1")
        XCTAssertThrowsError(try vault.sign(alias: "k1", message: message)) { error in
            XCTAssertEqual(error as? KeyError, .NotFound)
        }
        try vault.deleteKey(alias: "k1") // deleting a missing key is fine
    }

    func testTheKeyVaultListsItsKeysWithTheirPublicKeys() throws {
        let prefix = "io.ibkey.tests.\(UUID().uuidString)."
        let vault = SecureEnclaveKeyVault(tagPrefix: prefix, requireBiometry: false, preferSecureEnclave: false)
        let other = SecureEnclaveKeyVault(
            tagPrefix: "io.ibkey.tests.other.\(UUID().uuidString).", requireBiometry: false, preferSecureEnclave: false
        )
        let alice: Data
        do {
            alice = try vault.createKey(alias: "alice")
        } catch {
            try skipWithoutKeychain(error)
            throw error
        }
        defer { try? vault.deleteKey(alias: "alice") }
        let bob = try vault.createKey(alias: "bob")
        defer { try? vault.deleteKey(alias: "bob") }
        _ = try other.createKey(alias: "carol")
        defer { try? other.deleteKey(alias: "carol") }

        // A new vault over the same tags: the app after a reinstall.
        let listed = try SecureEnclaveKeyVault(tagPrefix: prefix, requireBiometry: false, preferSecureEnclave: false)
            .listKeys()
        XCTAssertEqual(Set(listed.map(\.alias)), ["alice", "bob"])
        XCTAssertEqual(listed.first { $0.alias == "alice" }?.publicKey, alice)
        XCTAssertEqual(listed.first { $0.alias == "bob" }?.publicKey, bob)
        try vault.deleteKey(alias: "alice")
        XCTAssertEqual(try vault.listKeys().map(\.alias), ["bob"])
    }

    func testNotificationSettingsMapToTheDoctorsView() {
        XCTAssertEqual(NotificationSettings.allowed(.authorized), true)
        XCTAssertEqual(NotificationSettings.allowed(.provisional), true)
        XCTAssertEqual(NotificationSettings.allowed(.denied), false)
        XCTAssertEqual(NotificationSettings.allowed(.notDetermined), false, "never asked: nothing shows")
        XCTAssertEqual(NotificationSettings.enabled(.enabled), true)
        XCTAssertEqual(NotificationSettings.enabled(.disabled), false)
        XCTAssertNil(NotificationSettings.enabled(.notSupported))
    }

    func testATestNotificationsPayloadIsReadBackAsTheCoreWantsIt() throws {
        let payload = IbKey.notificationPayload(["type": "ibkey.test", "id": "abc", "sent_at_ms": "1796206440123"])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: payload) as? [String: Any])
        XCTAssertEqual(json["type"] as? String, "ibkey.test")
        XCTAssertEqual(json["id"] as? String, "abc")
        XCTAssertEqual((json["sent_at_ms"] as? NSNumber)?.int64Value, 1_796_206_440_123)
        XCTAssertEqual(IbKey.notificationPayload(["type": "ibkey.login", "challenge": "IBK1.x.y"]), Data("IBK1.x.y".utf8))
    }

    func testLocalAuthenticationErrorsMapToOutcomes() throws {
        let cases: [(LAError.Code, BiometricOutcome)] = [
            (.userCancel, .cancelled),
            (.appCancel, .cancelled),
            (.systemCancel, .cancelled),
            (.userFallback, .cancelled),
            (.authenticationFailed, .failed),
            (.biometryLockout, .lockedOut),
            (.biometryNotAvailable, .unavailable),
            (.biometryNotEnrolled, .unavailable),
            (.passcodeNotSet, .unavailable),
        ]
        for (code, expected) in cases {
            XCTAssertEqual(try LocalAuthVerifier.outcome(of: LAError(code)), expected, "\(code)")
        }
        XCTAssertThrowsError(try LocalAuthVerifier.outcome(of: LAError(.notInteractive))) { error in
            guard case .Failed = error as? VerifierError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try LocalAuthVerifier.outcome(of: URLError(.badURL)))
    }

    func testASignatureRefusedRightAfterACheckMeansTheKeyWasInvalidated() {
        func error(_ domain: String, _ code: Int) -> Unmanaged<CFError> {
            let error: CFError = CFErrorCreate(nil, domain as CFString, CFIndex(code), nil)
            return Unmanaged.passRetained(error)
        }
        let authFailed = Int(errSecAuthFailed)
        XCTAssertEqual(
            SecureEnclaveKeyVault.signingError(error(NSOSStatusErrorDomain, authFailed), afterVerification: true),
            .Invalidated
        )
        guard case .Failed = SecureEnclaveKeyVault.signingError(
            error(NSOSStatusErrorDomain, authFailed), afterVerification: false
        ) else {
            return XCTFail("without a fresh check an auth failure is not an invalidation")
        }
        XCTAssertEqual(
            SecureEnclaveKeyVault.signingError(
                error(LAErrorDomain, LAError.Code.biometryNotEnrolled.rawValue), afterVerification: false
            ),
            .Invalidated
        )
    }

    func testTheOsLogSinkTakesEveryLevel() throws {
        let sink = OSLogSink(subsystem: "io.ibkey.tests", category: "adapter-tests")
        for level in [LogLevel.error, .warn, .info, .debug, .trace] {
            XCTAssertNoThrow(try sink.log(level: level, target: "ibkey_core::tests", message: "line at \(level)"))
        }
    }
}
