import Foundation
import XCTest
@testable import IbKey
#if canImport(CoreImage)
import CoreImage
#endif

/// Activation through the Swift bindings against the real reference server (the Swift twin of
/// the Kotlin suite's ActivationTest).
final class ActivationTests: XCTestCase {
    private var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer.fromEnvironment()
    }

    func testActivatesFromAQrImageThenAddsASecondUserBySessionId() async throws {
        #if canImport(CoreImage)
        let alice = uniqueUser("alice")
        let bob = uniqueUser("bob")
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        let ticket = try await server.ticket(for: alice)
        let payload = try decodeQrImage(image: qrCodePNG(ticket.qrPayload))
        XCTAssertEqual(payload, ticket.qrPayload)

        let request = try await phone.ibkey.inspectQr(payload)
        XCTAssertEqual(request.username, alice)
        XCTAssertEqual(request.serverUrl, server.url)
        XCTAssertEqual(request.sessionIdHint.count, 4)

        let first = try await phone.ibkey.activateFromQr(payload)
        XCTAssertEqual(first.activatedUser(), alice)
        let bobTicket = try await server.ticket(for: bob)
        let second = try await phone.ibkey.activateWithSessionId(bobTicket.sessionId)
        XCTAssertEqual(second.activatedUser(), bob)

        let users = try await phone.ibkey.accounts().map(\.username)
        XCTAssertEqual(users, [alice, bob])
        let bobAccount = try await phone.ibkey.account(bob)
        XCTAssertEqual(bobAccount?.serverUrl, server.url)
        XCTAssertEqual(phone.user.pinRequests.map(\.purpose), [.create, .confirm], "the PIN is chosen once, then confirmed")
        let hasPin = try await phone.ibkey.hasPin()
        XCTAssertTrue(hasPin)
        #else
        throw XCTSkip("CoreImage renders the QR image; not on this platform")
        #endif
    }

    func testTheSameQrAgainIsRecognisedAndAFreshOneForAnEnrolledUserSaysAlreadyEnrolled() async throws {
        let carol = uniqueUser("carol")
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        let first = try await server.ticket(for: carol)
        let activated = try await phone.ibkey.activateFromQr(first.qrPayload)
        XCTAssertEqual(activated.activatedUser(), carol)

        let again = try await phone.ibkey.activateFromQr(first.qrPayload)
        guard case let .alreadyActivatedWithThisCode(account) = again else {
            return XCTFail("expected the code to be recognised, got \(again)")
        }
        XCTAssertEqual(account.username, carol)

        let fresh = try await server.ticket(for: carol)
        let error = await expectError(ActivationError.self) {
            try await phone.ibkey.activateFromQr(fresh.qrPayload)
        }
        guard case let .AlreadyEnrolled(username, foundBy) = error else {
            return XCTFail("expected AlreadyEnrolled, got \(String(describing: error))")
        }
        XCTAssertEqual(username, carol)
        XCTAssertEqual(foundBy, .device)
        XCTAssertEqual(error?.code(), "ACT_ALREADY_ENROLLED")
        XCTAssertEqual(
            error?.localizedDescription,
            "\(carol) is already enrolled on this device. There is nothing to do: you can already approve logins for \(carol)."
        )
        XCTAssertEqual(error?.localizedDescription, error?.description)
    }

    func testAUsedCodeSaysSoByQrAndBySessionId() async throws {
        let dave = uniqueUser("dave")
        let first = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        let second = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        let ticket = try await server.ticket(for: dave)
        let activated = try await first.ibkey.activateFromQr(ticket.qrPayload)
        XCTAssertEqual(activated.activatedUser(), dave)

        let byQr = await expectError(ActivationError.self) {
            try await second.ibkey.activateFromQr(ticket.qrPayload)
        }
        let bySessionId = await expectError(ActivationError.self) {
            try await second.ibkey.activateWithSessionId(ticket.sessionId)
        }
        for error in [byQr, bySessionId] {
            XCTAssertEqual(error, .CodeUsed)
            XCTAssertEqual(error?.code(), "ACT_CODE_USED")
            XCTAssertEqual(error?.ibkeyCode, "ACT_CODE_USED")
            XCTAssertEqual(
                error?.localizedDescription,
                "This activation code was already used. Log out of the portal and back in to get a fresh QR code and session ID, then try again."
            )
        }
        let users = try await second.ibkey.accounts()
        XCTAssertEqual(users, [])
    }

    func testAnExpiredCodeSaysSo() async throws {
        // A server started with --ticket-lifetime 2 (ios/run-tests.sh starts one).
        let shortLived = try TestServer.fromEnvironment("IBKEY_TEST_SERVER_SHORT_TICKETS")
        let phone = try Phone(serverUrl: shortLived.url, serverKey: shortLived.publicKey)
        let ticket = try await shortLived.ticket(for: uniqueUser("erin"))
        try await Task.sleep(nanoseconds: 3_200_000_000)

        let error = await expectError(ActivationError.self) {
            try await phone.ibkey.activateWithSessionId(ticket.sessionId)
        }
        XCTAssertEqual(error, .CodeExpired)
        XCTAssertEqual(error?.code(), "ACT_CODE_EXPIRED")
        XCTAssertEqual(
            error?.localizedDescription,
            "This activation code has expired. Log out of the portal and back in to get a fresh QR code and session ID, then try again."
        )
        let users = try await phone.ibkey.accounts()
        XCTAssertEqual(users, [])
    }

    func testAMistypedSessionIdIsCaughtOnTheDeviceWithTheGroupToCheck() async throws {
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        let sessionId = try await server.ticket(for: uniqueUser("frank")).sessionId
        var characters = Array(sessionId) // K7QP-3MZX-9TWD: index 5 is group 2's first
        characters[5] = characters[5] == "Z" ? "Y" : "Z"
        let typo = String(characters)

        var checked: ActivationError?
        do {
            try phone.ibkey.checkSessionId(typo)
            XCTFail("the typo was not caught")
        } catch let error as ActivationError {
            checked = error
        }
        XCTAssertEqual(checked, .SessionIdMistyped(group: 2))
        XCTAssertEqual(checked?.code(), "ACT_SESSION_ID_MISTYPED")
        XCTAssertTrue(
            checked?.localizedDescription.hasPrefix("Group 2 of the session ID looks mistyped.") ?? false,
            checked?.localizedDescription ?? ""
        )

        let activated = await expectError(ActivationError.self) {
            try await phone.ibkey.activateWithSessionId(typo)
        }
        XCTAssertEqual(activated, .SessionIdMistyped(group: 2))

        XCTAssertThrowsError(try phone.ibkey.checkSessionId("K7QP-3MZX")) { error in
            XCTAssertEqual(error as? ActivationError, .SessionIdWrongLength(found: 8, expected: 12))
            XCTAssertEqual(error.ibkeyCode, "ACT_SESSION_ID_LENGTH")
        }
        XCTAssertNoThrow(try phone.ibkey.checkSessionId(sessionId.lowercased()))
    }

    func testAPlainHttpServerElsewhereIsRefusedWhenTheAuthenticatorIsMade() throws {
        XCTAssertThrowsError(try Phone(serverUrl: "http://example.com", serverKey: nil)) { error in
            XCTAssertEqual(error as? ActivationError, .InsecureServer(url: "http://example.com"))
            XCTAssertEqual(error.ibkeyCode, "ACT_INSECURE_SERVER")
            XCTAssertTrue(error.localizedDescription.contains("Use an https:// address"), error.localizedDescription)
        }
    }
}

#if canImport(CoreImage)
/// The QR code of `text` as a PNG, black on white with a wide quiet zone: what a screenshot of
/// the portal's activation page holds.
func qrCodePNG(_ text: String) throws -> Data {
    let generator = try XCTUnwrap(CIFilter(name: "CIQRCodeGenerator"))
    generator.setValue(Data(text.utf8), forKey: "inputMessage")
    generator.setValue("M", forKey: "inputCorrectionLevel")
    let modules = try XCTUnwrap(generator.outputImage)
    let code = modules.samplingNearest().transformed(by: CGAffineTransform(scaleX: 8, y: 8))
    let canvas = code.extent.insetBy(dx: -64, dy: -64)
    let image = code.composited(over: CIImage(color: CIColor(red: 1, green: 1, blue: 1)).cropped(to: canvas))
    let png = CIContext().pngRepresentation(
        of: image,
        format: .RGBA8,
        colorSpace: CGColorSpaceCreateDeviceRGB(),
        options: [:]
    )
    return try XCTUnwrap(png)
}
#endif
