import Foundation
import XCTest
@testable import IbKey

/// Codes without a network through the Swift bindings against the real reference server:
/// challenge/response and time-based codes (the phone computes them offline; only the login
/// page talks to the server), and any `otpauth://` URI. The Swift twin of the Kotlin suite's
/// OfflineCodesTest.
///
/// They use the shared server (`IBKEY_TEST_SERVER`, see `TestServer`), so they also run on a
/// simulator; the `otpauth://` test needs no server at all.
final class OfflineCodesTests: XCTestCase {
    /// A phone with `user` enrolled on `server`.
    private func enrolledPhone(_ user: String, on server: TestServer) async throws -> Phone {
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        let ticket = try await server.ticket(for: user)
        let outcome = try await phone.ibkey.activateWithSessionId(ticket.sessionId)
        XCTAssertEqual(outcome.activatedUser(), user)
        return phone
    }

    func testAChallengeAnsweredOnThePhoneLogsInOnceAndAMistypedOneIsCaughtOnThePhone() async throws {
        let server = try TestServer.fromEnvironment()
        let quinn = uniqueUser("quinn")
        let phone = try await enrolledPhone(quinn, on: server)
        let login = try await server.startLogin(quinn)
        let challenge = try await server.offlineChallenge(login)
        XCTAssertEqual(challenge.count, 7, "grouped as 123 456: \(challenge)")

        let digits = Array(challenge.filter { $0.isASCII && $0.isNumber })
        XCTAssertEqual(digits.count, 6, "six digits: \(challenge)")
        if digits.count == 6, digits[0] != digits[1] {
            let swapped = String(digits[1]) + String(digits[0]) + String(digits[2...])
            let typo = await expectError(CodesError.self) {
                try await phone.ibkey.respond(quinn, challenge: swapped)
            }
            XCTAssertEqual(typo, .ChallengeMistyped)
            XCTAssertEqual(typo?.ibkeyCode, "COD_CHALLENGE_MISTYPED")
        }

        let answer = try await phone.ibkey.respond(quinn, challenge: challenge)
        XCTAssertEqual(answer.username, quinn)
        XCTAssertEqual(answer.response.count, 8)
        let (status, reply) = try await server.submitResponse(login, answer.response)
        XCTAssertEqual(status, 200, reply)
        let state = try await server.loginState(login)
        XCTAssertEqual(state, "approved")

        let (again, refused) = try await server.submitResponse(login, answer.response)
        XCTAssertGreaterThanOrEqual(again, 400, refused)
    }

    func testATimeBasedCodeFromThePhoneIsAcceptedOnce() async throws {
        let server = try TestServer.fromEnvironment()
        let rosa = uniqueUser("rosa")
        let phone = try await enrolledPhone(rosa, on: server)
        let login = try await server.startLogin(rosa)
        let code = try await phone.ibkey.timeCode(rosa)
        XCTAssertEqual(code.username, rosa)
        XCTAssertEqual(code.code.count, 6)
        XCTAssertEqual(code.period, 30)
        XCTAssertTrue((1...30).contains(code.secondsLeft), "seconds left: \(code.secondsLeft)")
        let (status, reply) = try await server.submitTimeCode(login, code.code)
        XCTAssertEqual(status, 200, reply)
        let state = try await server.loginState(login)
        XCTAssertEqual(state, "approved")

        let next = try await server.startLogin(rosa)
        let (again, refused) = try await server.submitTimeCode(next, code.code)
        XCTAssertGreaterThanOrEqual(again, 400, "a code is good once: \(refused)")
    }

    /// `setPhoneClockSkewForTests(seconds:)` moves the library's clock; it is generated only
    /// from a `test-hooks` build of `ibkey-ffi` (as `tests/kotlin/run.sh` builds it), and
    /// `build-xcframework.sh` builds without that feature, so the call would not compile
    /// against the shipped bindings. It is compiled only with `-Xswiftc -DIBKEY_TEST_HOOKS`,
    /// against an XCFramework and bindings built with `--features test-hooks`; else skipped.
    func testAPhoneClockMinutesOffStillGivesAcceptedCodes() async throws {
        #if IBKEY_TEST_HOOKS
        let server = try TestServer.fromEnvironment()
        for (name, skew) in [("ahead", Int64(300)), ("behind", Int64(-300))] {
            setPhoneClockSkewForTests(seconds: skew)
            defer { setPhoneClockSkewForTests(seconds: 0) }
            let user = uniqueUser("clock-\(name)")
            // The phone learns how far off it is from the server's signed times.
            let phone = try await enrolledPhone(user, on: server)
            let offset = try await phone.ibkey.clockOffsetSecs()
            XCTAssertEqual(offset.map { Int64((Double($0) / 60).rounded()) * 60 }, skew, "learned offset: \(String(describing: offset))")

            let login = try await server.startLogin(user)
            let code = try await phone.ibkey.timeCode(user)
            let (status, reply) = try await server.submitTimeCode(login, code.code)
            XCTAssertEqual(status, 200, "phone \(name) by \(skew) s: \(reply)")

            let next = try await server.startLogin(user)
            let answer = try await phone.ibkey.respond(user, challenge: server.offlineChallenge(next))
            let (answered, answerReply) = try await server.submitResponse(next, answer.response)
            XCTAssertEqual(answered, 200, "phone \(name) by \(skew) s: \(answerReply)")
        }
        #else
        throw XCTSkip("needs setPhoneClockSkewForTests: a test-hooks build of ibkey-ffi and -Xswiftc -DIBKEY_TEST_HOOKS; see ios/README.md")
        #endif
    }

    func testAUserWhoIsNotOnThePhoneGetsAClearError() async throws {
        let server = try TestServer.fromEnvironment()
        let phone = try await enrolledPhone(uniqueUser("sven"), on: server)
        let error = await expectError(CodesError.self) {
            try await phone.ibkey.respond("tara", challenge: "123455")
        }
        XCTAssertEqual(error, .UnknownAccount(username: "tara"))
        XCTAssertEqual(error?.ibkeyCode, "COD_UNKNOWN_ACCOUNT")
    }

    func testOtpauthUrisGiveRfcCodesAndMalformedOnesSayWhatIsWrong() async throws {
        // RFC 6238 Appendix B, SHA-1, T = 59 and T = 20000000000 (past 2038).
        let rfc = "otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&issuer=Example"
        let at59 = try otpCode(uri: rfc, unixTime: 59)
        XCTAssertEqual(at59.code, "94287082")
        XCTAssertEqual(at59.kind, .totp)
        XCTAssertEqual(at59.issuer, "Example")
        XCTAssertEqual(at59.account, "alice")
        XCTAssertEqual(try otpCode(uri: rfc, unixTime: 20_000_000_000).code, "65353130")
        // RFC 4226 Appendix D, counter 1.
        let hotp = "otpauth://hotp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=1"
        let counted = try otpCode(uri: hotp, unixTime: 0)
        XCTAssertEqual(counted.code, "287082")
        XCTAssertEqual(counted.kind, .hotp)
        XCTAssertEqual(counted.counter, 1)

        for bad in [
            "https://example.com",
            "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQ&period=0",
            "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBV&digits=10",
            "otpauth://totp/alice",
            "otpauth://hotp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBV",
        ] {
            let error = await expectError(OtpError.self) {
                try otpCode(uri: bad, unixTime: 59)
            }
            guard let error else { continue }
            let code = error.ibkeyCode ?? ""
            XCTAssertTrue(code.hasPrefix("OTP_"), "\(bad): \(code)")
            let message = error.localizedDescription
            XCTAssertFalse(message.contains("GEZDGNBV"), "the secret is in the message: \(message)")
        }
    }
}
