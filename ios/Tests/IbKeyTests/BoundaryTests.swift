import Foundation
import XCTest
@testable import IbKey

/// What crosses the FFI boundary besides the happy path: foreign errors, logs (the twin of the
/// Kotlin suite's BoundaryTest).
///
/// The Kotlin suite also checks that a Rust panic becomes a catchable exception, through
/// `triggerPanicForTests`. That hook exists only in a `test-hooks` build, and in Swift it is a
/// non-throwing function, which uniffi turns into a crash on a panic; so it is not called here.
final class BoundaryTests: XCTestCase {
    func testBadImageBytesAreATypedError() {
        XCTAssertThrowsError(try decodeQrImage(image: Data("not an image".utf8))) { error in
            guard case .NotAnImage = error as? ScanError else {
                return XCTFail("expected NotAnImage, got \(error)")
            }
            XCTAssertEqual(error.ibkeyCode, "SCAN_NOT_AN_IMAGE")
        }
    }

    func testAnErrorThrownByTheShellsStoreBecomesATypedError() async throws {
        let server = try TestServer.fromEnvironment()
        let oscar = uniqueUser("oscar")
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey)
        phone.store.failWrites = true
        let ticket = try await server.ticket(for: oscar)
        let error = await expectError(ActivationError.self) {
            try await phone.ibkey.activateFromQr(ticket.qrPayload)
        }
        guard case let .Store(.Unreadable(reason)) = error else {
            return XCTFail("expected a store error, got \(String(describing: error))")
        }
        XCTAssertTrue(reason.contains("disk full"), reason)
        XCTAssertEqual(error?.code(), "STORE_UNREADABLE")
        XCTAssertTrue(error?.localizedDescription.contains("disk full") ?? false)

        phone.store.failWrites = false
        _ = try await phone.ibkey.activateFromQr(server.ticket(for: oscar).qrPayload)
        let users = try await phone.ibkey.accounts().map(\.username)
        XCTAssertEqual(users, [oscar])
    }

    func testAnErrorThrownByTheShellsHttpTransportMeansTheServerIsUnreachable() async throws {
        let server = try TestServer.fromEnvironment()
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey, http: BrokenTransport())
        let ticket = try await server.ticket(for: uniqueUser("peggy"))
        let error = await expectError(ActivationError.self) {
            try await phone.ibkey.activateFromQr(ticket.qrPayload)
        }
        guard case let .ServerUnreachable(reason) = error else {
            return XCTFail("expected ServerUnreachable, got \(String(describing: error))")
        }
        XCTAssertTrue(reason.contains("no network stack"), reason)
        XCTAssertEqual(error?.code(), "ACT_SERVER_UNREACHABLE")
    }

    func testAServerThatIsDownIsUnreachableThroughTheRealTransport() async throws {
        let server = try TestServer.fromEnvironment()
        // Nothing listens on port 1 of this machine.
        let phone = try Phone(serverUrl: "http://127.0.0.1:1", serverKey: nil)
        let ticket = try await server.ticket(for: uniqueUser("rupert"))
        let error = await expectError(ActivationError.self) {
            try await phone.ibkey.activateWithSessionId(ticket.sessionId)
        }
        guard case .ServerUnreachable = error else {
            return XCTFail("expected ServerUnreachable, got \(String(describing: error))")
        }
        XCTAssertTrue(
            error?.localizedDescription.hasPrefix("The server could not be reached") ?? false,
            error?.localizedDescription ?? ""
        )
    }

    func testTheCoresLogsReachTheShellsSinkWithoutSecrets() async throws {
        let server = try TestServer.fromEnvironment()
        let sink = CollectingLogSink()
        let diagnostics = try makeDiagnostics(serverUrl: server.url)
        diagnostics.setLogSink(sink: sink, level: .debug)
        defer { diagnostics.setLogSink(sink: nil, level: .error) }

        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey, diagnostics: diagnostics)
        let ticket = try await server.ticket(for: uniqueUser("sybil"))
        _ = try await phone.ibkey.activateWithSessionId(ticket.sessionId)

        let lines = sink.lines
        XCTAssertTrue(lines.contains {
            $0.level == .info && $0.target.hasPrefix("ibkey_core") && $0.message.hasPrefix("activated")
        }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.level == .debug && $0.message.hasPrefix("server request") }, "\(lines)")
        let text = lines.map(\.message).joined(separator: "\n")
        XCTAssertFalse(text.contains(pin), "the PIN is never logged")
        XCTAssertFalse(text.contains(ticket.sessionId), "a full session ID is never logged")
        XCTAssertFalse(text.contains(ticket.sessionId.replacingOccurrences(of: "-", with: "")))
    }
}

/// An HTTP transport whose platform stack is broken: it throws something undeclared.
private final class BrokenTransport: HttpTransport, @unchecked Sendable {
    func send(request: HttpRequest) async throws -> HttpResponse {
        throw PlatformFailure(description: "no network stack")
    }
}
