import Foundation
import XCTest
@testable import IbKey

/// Login approval through the Swift bindings against the real reference server, whose login
/// notifications go to a push gateway on loopback (`PushInbox`): what the phone gets from
/// APNs. The Swift twin of the Kotlin suite's ApprovalTest.
///
/// Each test starts its own server with the push webhook (`TestServer.start`), so these run
/// with `swift test` on a Mac (`ios/run-tests.sh`) and are skipped on a simulator.
final class ApprovalTests: PushServerTestCase {
    /// A phone with `user` enrolled on `server` (this test's server when nil).
    private func enrolledPhone(_ user: String, on server: TestServer? = nil) async throws -> Phone {
        let portal = server ?? self.server!
        let phone = try Phone(serverUrl: portal.url, serverKey: portal.publicKey)
        let ticket = try await portal.ticket(for: user)
        let outcome = try await phone.ibkey.activateWithSessionId(ticket.sessionId)
        XCTAssertEqual(outcome.activatedUser(), user)
        return phone
    }

    func testAPushedLoginIsApprovedAfterMatchingTheNumber() async throws {
        let kate = uniqueUser("kate")
        let phone = try await enrolledPhone(kate)
        let login = try await server.startLogin(kate)
        XCTAssertEqual(login.devicesNotified, 1)
        let challenge = try await phone.ibkey.readPush(pushes.next(user: kate))
        XCTAssertEqual(challenge.username, kate)
        XCTAssertEqual(challenge.source, .push)
        XCTAssertEqual(challenge.context.application, "Client Portal")
        XCTAssertEqual(challenge.context.location, "this computer")
        XCTAssertEqual(challenge.numberChoices.count, 3)
        XCTAssertTrue(challenge.numberChoices.contains(login.number), "\(login.number) not in \(Array(challenge.numberChoices))")
        XCTAssertTrue((1...120).contains(challenge.secondsLeft), "seconds left: \(challenge.secondsLeft)")

        let outcome = try await phone.ibkey.approve(challenge, number: login.number)
        XCTAssertEqual(outcome.decision, .approve)
        let state = try await server.loginState(login)
        XCTAssertEqual(state, "approved")

        // The same notification delivered again is recognised, not answered twice.
        let again = await expectError(ApprovalError.self) {
            try await phone.ibkey.approve(challenge, number: login.number)
        }
        XCTAssertEqual(again, .AlreadyAnswered)
        XCTAssertEqual(again?.ibkeyCode, "APR_ALREADY_ANSWERED")
    }

    func testALoginPulledWhenTheAppOpensCanBeDeniedAndReportedWhichPausesNotifications() async throws {
        let liam = uniqueUser("liam")
        let phone = try await enrolledPhone(liam)
        let login = try await server.startLogin(liam)
        _ = try pushes.next(user: liam)
        let waiting = try await phone.ibkey.pendingLogins().filter { $0.username == liam }
        XCTAssertEqual(waiting.count, 1)
        let challenge = try XCTUnwrap(waiting.first)
        XCTAssertEqual(challenge.source, .pull)

        let outcome = try await phone.ibkey.deny(challenge, reportFraud: true)
        XCTAssertEqual(outcome.decision, .reportFraud)
        let state = try await server.loginState(login)
        XCTAssertEqual(state, "reported_fraud")

        let next = try await server.startLogin(liam)
        XCTAssertNotNil(next.pushesMutedUntil, "notifications paused after the report")
        XCTAssertEqual(next.devicesNotified, 0)
        let afterwards = try await phone.ibkey.pendingLogins().filter { $0.username == liam }
        XCTAssertEqual(afterwards, [])
    }

    func testThreeWrongNumbersRefuseTheLoginAndTellTheServer() async throws {
        let mia = uniqueUser("mia")
        let phone = try await enrolledPhone(mia)
        let login = try await server.startLogin(mia)
        let challenge = try await phone.ibkey.readPush(pushes.next(user: mia))
        let wrong = try XCTUnwrap(challenge.numberChoices.first(where: { $0 != login.number }))

        let first = try await phone.ibkey.checkNumber(challenge, number: wrong)
        XCTAssertEqual(first, .wrong(attemptsLeft: 2))
        let second = await expectError(ApprovalError.self) {
            try await phone.ibkey.approve(challenge, number: wrong)
        }
        XCTAssertEqual(second, .WrongNumber(attemptsLeft: 1))
        let message = second?.localizedDescription ?? ""
        XCTAssertTrue(message.localizedCaseInsensitiveContains("this wasn't me"), message)
        let third = await expectError(ApprovalError.self) {
            try await phone.ibkey.checkNumber(challenge, number: wrong)
        }
        XCTAssertEqual(third, .NumberMismatchRefused)
        let state = try await server.loginState(login)
        XCTAssertEqual(state, "wrong_number")
    }

    func testAnExpiredLoginSaysToAskForANewOne() async throws {
        let shortLived = try await TestServer.start(challengeLifetimeSecs: 1)
        defer { shortLived.stop() }
        let noah = uniqueUser("noah")
        let phone = try await enrolledPhone(noah, on: shortLived)
        let login = try await shortLived.startLogin(noah)
        let waiting = try await phone.ibkey.pendingLogins()
        XCTAssertEqual(waiting.count, 1)
        let challenge = try XCTUnwrap(waiting.first)
        try await Task.sleep(nanoseconds: 2_200_000_000)

        let error = await expectError(ApprovalError.self) {
            try await phone.ibkey.approve(challenge, number: login.number)
        }
        XCTAssertEqual(error, .ChallengeExpired)
        XCTAssertEqual(error?.code(), "APR_CHALLENGE_EXPIRED")
        let message = error?.localizedDescription ?? ""
        XCTAssertTrue(message.contains("new login"), message)
        let state = try await shortLived.loginState(login)
        XCTAssertEqual(state, "expired")
    }

    func testALoginQrCodeIsReadAndApprovedWithoutANumber() async throws {
        let olga = uniqueUser("olga")
        let phone = try await enrolledPhone(olga)
        let login = try await server.startLogin(olga)
        _ = try pushes.next(user: olga)
        let challenge = try await phone.ibkey.readLoginQr(server.loginQr(login))
        XCTAssertEqual(challenge.source, .qrCode)
        XCTAssertEqual(challenge.numberChoices.count, 0)
        let outcome = try await phone.ibkey.approve(challenge)
        XCTAssertEqual(outcome.decision, .approve)
        let state = try await server.loginState(login)
        XCTAssertEqual(state, "approved")
    }

    func testALoginForAUserWhoIsNotOnThisPhoneIsRefused() async throws {
        let piet = uniqueUser("piet")
        let other = try await enrolledPhone(piet)
        let empty = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        _ = try await server.startLogin(piet)
        let data = try pushes.next(user: piet)

        let error = await expectError(ApprovalError.self) {
            try await empty.ibkey.readPush(data)
        }
        switch error {
        case .UnknownAccount?, .OtherDevice?:
            break
        default:
            XCTFail("expected UnknownAccount or OtherDevice, got \(error?.ibkeyCode ?? "nothing")")
        }
        let accounts = try await empty.ibkey.accounts()
        XCTAssertEqual(accounts, [])
        let read = try await other.ibkey.readPush(data)
        XCTAssertEqual(read.username, piet)
    }
}
