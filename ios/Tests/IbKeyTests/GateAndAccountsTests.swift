import Foundation
import XCTest
@testable import IbKey

/// PIN lockout, biometrics and removing users, through the Swift bindings (the twin of the
/// Kotlin suite's GateAndAccountsTest).
final class GateAndAccountsTests: XCTestCase {
    private var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer.fromEnvironment()
    }

    func testWrongPinsLockThePinPadAndTheLockoutIsReported() async throws {
        let grace = uniqueUser("grace")
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        let first = try await phone.ibkey.activateFromQr(server.ticket(for: grace).qrPayload)
        XCTAssertEqual(first.activatedUser(), grace)
        let before = try await phone.ibkey.pinLockout()
        XCTAssertNil(before)

        // Adding a second user: the person keeps typing a wrong PIN.
        phone.user.standingPin = "9157"
        let requestsBefore = phone.user.pinRequests.count
        let ticket = try await server.ticket(for: uniqueUser("heidi"))
        let error = await expectError(ActivationError.self) {
            try await phone.ibkey.activateWithSessionId(ticket.sessionId)
        }
        guard case let .Verification(.LockedOut(untilUnixMs, remainingSecs)) = error else {
            return XCTFail("expected a PIN lockout, got \(String(describing: error))")
        }
        XCTAssertTrue((1...30).contains(remainingSecs), "remaining \(remainingSecs)")
        XCTAssertEqual(error?.code(), "GATE_LOCKED_OUT")
        XCTAssertEqual(error?.localizedDescription, "Too many wrong PINs. Try again in \(remainingSecs) seconds.")
        XCTAssertEqual(error?.verificationFailure, .LockedOut(untilUnixMs: untilUnixMs, remainingSecs: remainingSecs))
        XCTAssertEqual(error?.verificationFailure?.code(), "GATE_LOCKED_OUT")

        let asked = Array(phone.user.pinRequests.dropFirst(requestsBefore))
        XCTAssertEqual(asked.count, 5, "five wrong PINs start the first delay")
        XCTAssertTrue(asked.allSatisfy { $0.purpose == .confirm })
        XCTAssertEqual(asked.map(\.retryReason), [
            nil,
            "Wrong PIN. 4 tries left before a delay.",
            "Wrong PIN. 3 tries left before a delay.",
            "Wrong PIN. 2 tries left before a delay.",
            "Wrong PIN. 1 try left before a delay.",
        ])

        let reported = try await phone.ibkey.pinLockout()
        XCTAssertTrue((1...30).contains(reported?.remainingSecs ?? 0))
        XCTAssertEqual(reported?.untilUnixMs, untilUnixMs)

        // While the delay runs, even the right PIN is not asked for.
        phone.user.standingPin = pin
        let asksBefore = phone.user.pinRequests.count
        let again = await expectError(ActivationError.self) {
            try await phone.ibkey.activateWithSessionId(ticket.sessionId)
        }
        guard case .Verification(.LockedOut) = again else {
            return XCTFail("expected the lockout again, got \(String(describing: again))")
        }
        XCTAssertEqual(phone.user.pinRequests.count, asksBefore)
        let users = try await phone.ibkey.accounts().map(\.username)
        XCTAssertEqual(users, [grace])
    }

    func testBiometricVerificationOutcomesBecomeTypedErrorsThenItActivates() async throws {
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey, method: .biometric)
        let ticket = try await server.ticket(for: uniqueUser("ivan"))
        phone.user.answerBiometric(.failed, .cancelled, .verified)

        let failed = await expectError(ActivationError.self) {
            try await phone.ibkey.activateFromQr(ticket.qrPayload)
        }
        XCTAssertEqual(failed, .Verification(error: .BiometricNotRecognised))
        XCTAssertEqual(failed?.ibkeyCode, "GATE_BIOMETRIC_NOT_RECOGNISED")

        let cancelled = await expectError(ActivationError.self) {
            try await phone.ibkey.activateFromQr(ticket.qrPayload)
        }
        XCTAssertEqual(cancelled?.verificationFailure, .Cancelled)
        XCTAssertEqual(
            cancelled?.localizedDescription,
            "Verification was cancelled, so nothing was done. Start again when you are ready."
        )

        let activated = try await phone.ibkey.activateFromQr(ticket.qrPayload)
        XCTAssertNotNil(activated.activatedUser())
        let hasPin = try await phone.ibkey.hasPin()
        XCTAssertFalse(hasPin, "biometrics need no app PIN")
        XCTAssertTrue(phone.user.pinRequests.isEmpty)
    }

    func testRemovingAUserRevokesItOnTheServerAndForgetsItOnTheDevice() async throws {
        let judy = uniqueUser("judy")
        let mallory = uniqueUser("mallory")
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        _ = try await phone.ibkey.activateFromQr(server.ticket(for: judy).qrPayload)
        _ = try await phone.ibkey.activateWithSessionId(server.ticket(for: mallory).sessionId)
        let account = try await phone.ibkey.account(judy)
        let judyAccount = try XCTUnwrap(account)
        let enrolled = try await server.credentialIds(of: judy)
        XCTAssertTrue(enrolled.contains(judyAccount.credentialId))

        let removed = try await phone.ibkey.removeAccount(judy)
        XCTAssertEqual(removed, judyAccount)
        let users = try await phone.ibkey.accounts().map(\.username)
        XCTAssertEqual(users, [mallory])
        let gone = try await phone.ibkey.account(judy)
        XCTAssertNil(gone)
        let afterwards = try await server.credentialIds(of: judy)
        XCTAssertFalse(afterwards.contains(judyAccount.credentialId), "revoked on the server")
        XCTAssertFalse(phone.store.keys.contains("key/\(judyAccount.keyAlias)"), "device key deleted")

        let error = await expectError(AccountsError.self) {
            try await phone.ibkey.removeAccount(judy)
        }
        XCTAssertEqual(error, .NotFound(username: judy))
        XCTAssertEqual(error?.code(), "ACC_NOT_FOUND")
        XCTAssertEqual(
            error?.localizedDescription,
            "\(judy) is not enrolled on this device. See the list of users for the names that are."
        )

        // The user can be activated again afterwards.
        let again = try await phone.ibkey.activateFromQr(server.ticket(for: judy).qrPayload)
        XCTAssertEqual(again.activatedUser(), judy)
    }
}
