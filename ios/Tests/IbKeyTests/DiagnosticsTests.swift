import CoreGraphics
import Foundation
import ImageIO
import UniformTypeIdentifiers
import XCTest
@testable import IbKey

/// "Upload Diagnostics" through the Swift bindings: the twin of the Kotlin `DiagnosticsTest`.
final class DiagnosticsTests: XCTestCase {
    func testABundleWithAScreenshotIsPreviewedThenSentForAReference() async throws {
        let server = try TestServer.fromEnvironment()
        let diagnostics = try makeDiagnostics(serverUrl: server.url)
        try diagnostics.setLogMode(mode: .extended)
        let phone = try Phone(serverUrl: server.url, serverKey: server.publicKey, diagnostics: diagnostics)
        let ticket = try await server.ticket(for: uniqueUser("ursula"))
        _ = try await phone.ibkey.activateWithSessionId(ticket.sessionId)
        let screenshot = try pngScreenshot(width: 360, height: 640)

        let bundle = try diagnostics.prepareBundle(request: BundleRequest(
            comment: "activation fails, see screenshot",
            username: "ursula",
            screenshots: [Screenshot(name: "IMG_0001.png", bytes: screenshot)],
            includeNetworkTrace: true
        ))
        let preview = bundle.preview()
        XCTAssertEqual(preview.files.map(\.kind), [.manifest, .log, .networkTrace, .screenshot])
        XCTAssertEqual(UInt64(bundle.bytes().count), preview.totalBytes)

        let progress = ProgressRecorder()
        let outcome = try await diagnostics.send(bundle: bundle, progress: progress)
        guard case let .sent(bundleId, reference) = outcome else {
            return XCTFail("expected the bundle to be sent, got \(outcome)")
        }
        XCTAssertEqual(bundleId, preview.bundleId)
        XCTAssertNotNil(reference.range(of: "^DIAG-[0-9A-Z]{6}$", options: .regularExpression), reference)
        XCTAssertEqual(progress.last?.sent, preview.totalBytes)
        XCTAssertTrue(try diagnostics.outbox().isEmpty)
    }

    func testScreenshotsThatAreNotImagesOrDamagedGetTheirOwnErrors() throws {
        let diagnostics = try makeDiagnostics(serverUrl: "http://127.0.0.1:1")
        func attach(_ bytes: Data) throws {
            _ = try diagnostics.prepareBundle(request: BundleRequest(
                comment: "", screenshots: [Screenshot(name: "shot.png", bytes: bytes)]
            ))
        }
        XCTAssertThrowsError(try attach(Data("%PDF-1.7".utf8))) { error in
            XCTAssertEqual(error.ibkeyCode, "DIAG_SCREENSHOT_NOT_AN_IMAGE")
        }
        let png = try pngScreenshot(width: 120, height: 200)
        XCTAssertThrowsError(try attach(png.prefix(png.count / 2))) { error in
            XCTAssertEqual(error.ibkeyCode, "DIAG_SCREENSHOT_CORRUPT")
        }
    }

    func testOfflineTheBundleWaitsInTheOutbox() async throws {
        let diagnostics = try makeDiagnostics(serverUrl: "http://127.0.0.1:1")
        let bundle = try diagnostics.prepareBundle(request: BundleRequest(comment: "sent from the train"))
        let outcome = try await diagnostics.send(bundle: bundle, progress: nil)
        guard case .queued = outcome else {
            return XCTFail("expected the bundle to wait, got \(outcome)")
        }
        XCTAssertEqual(try diagnostics.outbox().map(\.comment), ["sent from the train"])
    }
}

/// Keeps the last progress report.
private final class ProgressRecorder: UploadProgress, @unchecked Sendable {
    private let lock = NSLock()
    private var kept: (sent: UInt64, total: UInt64)?

    var last: (sent: UInt64, total: UInt64)? {
        lock.lock()
        defer { lock.unlock() }
        return kept
    }

    func onProgress(bundleId: String, sentBytes: UInt64, totalBytes: UInt64) throws {
        lock.lock()
        defer { lock.unlock() }
        kept = (sentBytes, totalBytes)
    }
}

/// A real PNG drawn with Core Graphics, as a phone's screenshot would be.
func pngScreenshot(width: Int, height: Int) throws -> Data {
    let context = try XCTUnwrap(CGContext(
        data: nil, width: width, height: height, bitsPerComponent: 8, bytesPerRow: 0,
        space: CGColorSpaceCreateDeviceRGB(), bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue
    ))
    context.setFillColor(red: 1, green: 1, blue: 1, alpha: 1)
    context.fill(CGRect(x: 0, y: 0, width: width, height: height))
    context.setFillColor(red: 0.12, green: 0.35, blue: 0.66, alpha: 1)
    context.fill(CGRect(x: 20, y: 20, width: width - 40, height: height / 3))
    let image = try XCTUnwrap(context.makeImage())
    let data = NSMutableData()
    let destination = try XCTUnwrap(CGImageDestinationCreateWithData(data, UTType.png.identifier as CFString, 1, nil))
    CGImageDestinationAddImage(destination, image, nil)
    XCTAssertTrue(CGImageDestinationFinalize(destination))
    return data as Data
}
