import Foundation
import XCTest
@testable import IbKey

/// A phone's whole life through the Swift bindings against the real reference server: moving
/// IB Key to a new phone (the move code read from the server's out-of-band outbox), recovering
/// the accounts after a reinstall, and the notification doctor with test notifications through
/// `PushInbox`. The Swift twin of the Kotlin suite's LifecycleTest; like `ApprovalTests` it
/// starts its own servers, so it runs with `swift test` on a Mac.
final class LifecycleTests: PushServerTestCase {
    private func enroll(_ phone: Phone, _ user: String, on server: TestServer? = nil) async throws {
        let portal = server ?? self.server!
        _ = try await phone.ibkey.activateWithSessionId(try await portal.ticket(for: user).sessionId)
    }

    private func status(_ report: DoctorReport, _ id: String) -> CheckStatus? {
        report.checks.first { $0.id == id }?.status
    }

    private func printed(_ report: DoctorReport) -> String {
        report.checks.map { "\($0.status) \($0.id): \($0.measured) \($0.fix)" }.joined(separator: "\n")
    }

    func testAfterAMoveTheOldPhoneIsToldWhereItWentAndTheNewOneApproves() async throws {
        let maya = uniqueUser("maya")
        let old = try Phone(serverUrl: server.url, serverKey: server.publicKey, deviceName: "Old iPhone 12")
        try await enroll(old, maya)
        let new = try Phone(serverUrl: server.url, serverKey: server.publicKey, deviceName: "New iPhone 16")

        let move = try await server.move(maya)
        XCTAssertEqual(move.replaces, ["Old iPhone 12"])
        let request = try await new.ibkey.inspectQr(move.ticket.qrPayload)
        XCTAssertEqual(request.replaces, ["Old iPhone 12"])
        guard case let .moved(account, replaced) = try await new.ibkey.activateFromQr(move.ticket.qrPayload) else {
            return XCTFail("expected a move")
        }
        XCTAssertEqual(account.username, maya)
        XCTAssertEqual(replaced, ["Old iPhone 12"])

        let refused = await expectError(ApprovalError.self) { try await old.ibkey.pendingLogins() }
        guard case let .Moved(notice)? = refused else {
            return XCTFail("expected ApprovalError.Moved, got \(String(describing: refused))")
        }
        XCTAssertEqual(notice.toDevice, "New iPhone 16")
        let accounts = try await old.ibkey.accounts()
        XCTAssertEqual(accounts, [])
        let notices = try await old.ibkey.takeMoveNotices()
        XCTAssertEqual(notices.map(\.username), [maya])
        let again = try await old.ibkey.takeMoveNotices()
        XCTAssertEqual(again, [], "a notice is given once")

        let login = try await server.startLogin(maya)
        guard case let .login(challenge) = try await new.ibkey.readNotification(pushes.next(user: maya)) else {
            return XCTFail("expected a login")
        }
        let outcome = try await new.ibkey.approve(challenge, number: login.number)
        XCTAssertEqual(outcome.decision, .approve)
    }

    func testAReinstalledPhoneWhoseKeychainKeptTheKeysRecoversWithTheCodeSent() async throws {
        let ruth = uniqueUser("ruth")
        let keychain = InMemorySecureStore()
        try await enroll(try Phone(serverUrl: server.url, serverKey: server.publicKey, keyStore: keychain), ruth)

        let phone = try Phone(
            serverUrl: server.url, serverKey: server.publicKey, user: ScriptedVerifier(standingPin: "7305"), keyStore: keychain
        )
        let offer = try await phone.ibkey.findRecoverableAccounts()
        XCTAssertEqual(offer.recoverable.map(\.username), [ruth])
        XCTAssertEqual(offer.lost, [])
        let code = try server.outOfBandCode(ruth)
        let account = try await phone.ibkey.recoverAccount(ruth, code: code)
        XCTAssertEqual(account.username, ruth)
        XCTAssertEqual(phone.user.pinRequests.first?.purpose, .create, "the old PIN went with the app's data")

        let login = try await server.startLogin(ruth)
        guard case let .login(challenge) = try await phone.ibkey.readNotification(pushes.next(user: ruth)) else {
            return XCTFail("expected a login")
        }
        let outcome = try await phone.ibkey.approve(challenge, number: login.number)
        XCTAssertEqual(outcome.decision, .approve)
    }

    func testAPhoneThatLostItsKeysTooHasNothingToRecover() async throws {
        try await enroll(try Phone(serverUrl: server.url, serverKey: server.publicKey), uniqueUser("sami"))
        let reinstalled = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        let error = await expectError(RecoveryError.self) { try await reinstalled.ibkey.findRecoverableAccounts() }
        XCTAssertEqual(error?.ibkeyCode, "REC_NOTHING_TO_RECOVER")
    }

    func testTheDoctorFindsAHealthyPhoneOnceATestNotificationMadeTheRoundTrip() async throws {
        let dora = uniqueUser("dora")
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        try await enroll(phone, dora)
        let token = Data([0xde, 0xad, 0xbe, 0xef])
        _ = try await phone.ibkey.registerPushToken(token)
        let sent = try await phone.ibkey.sendTestNotification()
        let userInfo = try pushes.next(user: dora)
        XCTAssertEqual(userInfo["id"] as? String, sent.id)
        guard case let .test(delayMs) = try await phone.ibkey.readNotification(userInfo) else {
            return XCTFail("expected the test notification")
        }
        XCTAssertNotNil(delayMs)

        let settings = NotificationSettings(
            platform: "ios", notificationsAllowed: true, channelEnabled: true, batteryOptimized: nil,
            backgroundRestricted: nil, deliveredInSummary: false, timeSensitiveAllowed: true
        )
        let report = try await phone.ibkey.checkNotifications(settings: settings, deviceToken: token)
        XCTAssertTrue(report.healthy, printed(report))
        XCTAssertEqual(status(report, "focus"), .pass)
        XCTAssertNil(status(report, "background"), "no battery check on iOS")
        XCTAssertEqual(status(report, "test_notification"), .pass)
    }

    func testTheDoctorNamesEachThingThatKeepsNotificationsAway() async throws {
        // Its push gateway is down: every notification the server sends is refused.
        let deadGateway = try PushInbox()
        let gatewayUrl = deadGateway.url
        deadGateway.close()
        let broken = try await TestServer.start(pushWebhook: gatewayUrl)
        defer { broken.stop() }
        let emil = uniqueUser("emil")
        let fenna = uniqueUser("fenna")
        let phone = try Phone(serverUrl: broken.url, serverKey: broken.publicKey)
        try await enroll(phone, emil, on: broken)
        try await enroll(phone, fenna, on: broken)
        try await broken.setLoginNotifications(fenna, enabled: false)
        _ = try await broken.startLogin(emil)

        let settings = NotificationSettings(
            platform: "ios", notificationsAllowed: false, channelEnabled: false, batteryOptimized: nil,
            backgroundRestricted: nil, deliveredInSummary: true, timeSensitiveAllowed: false
        )
        let report = try await phone.ibkey.checkNotifications(settings: settings)
        XCTAssertFalse(report.healthy)
        for id in ["notifications_allowed", "channel_enabled", "focus", "push_registration:\(emil)",
                   "delivery:\(emil)", "push_approvals:\(fenna)"] {
            XCTAssertEqual(status(report, id), .fail, "\(id) in\n\(printed(report))")
        }
        XCTAssertEqual(status(report, "server"), .pass)
    }
}
