import Foundation
import XCTest
@testable import IbKey

/// The reference server the tests talk to, from the environment:
///
/// - `IBKEY_TEST_SERVER`: its URL exactly as it prints it (`http://127.0.0.1:PORT`); tickets
///   name that URL and the core checks it. Tests that need a server are skipped without it.
/// - `IBKEY_TEST_SERVER_SHORT_TICKETS`: a second server started with `--ticket-lifetime 2`, for
///   the expired-code test (skipped without it).
/// - `IBKEY_TEST_PORTAL_PASSWORD`: the test users' portal password (default `ibkey-demo`).
///
/// `ios/run-tests.sh` starts both servers and sets these. From Xcode or `xcodebuild test` on
/// the simulator, prefix each variable with `TEST_RUNNER_`.
struct TestServer {
    let url: String
    let portalPassword: String

    static func fromEnvironment(_ variable: String = "IBKEY_TEST_SERVER") throws -> TestServer {
        let environment = ProcessInfo.processInfo.environment
        guard var url = environment[variable], !url.isEmpty else {
            throw XCTSkip("\(variable) is not set; see ios/README.md (ios/run-tests.sh sets it)")
        }
        while url.hasSuffix("/") { url.removeLast() }
        return TestServer(url: url, portalPassword: environment["IBKEY_TEST_PORTAL_PASSWORD"] ?? "ibkey-demo")
    }

    /// What the portal's activation page shows: a QR code's text and the session ID under it.
    struct Ticket: Decodable {
        let sessionId: String
        let qrPayload: String
        let expiresAt: Int64

        enum CodingKeys: String, CodingKey {
            case sessionId = "session_id"
            case qrPayload = "qr_payload"
            case expiresAt = "expires_at"
        }
    }

    private struct SignIn: Decodable {
        let portalToken: String

        enum CodingKeys: String, CodingKey {
            case portalToken = "portal_token"
        }
    }

    struct PortalRefused: Error, CustomStringConvertible {
        let status: Int
        let body: String
        var description: String { "the portal answered \(status): \(body)" }
    }

    /// Signs `user` in to the portal and asks for a fresh activation ticket, as the user does in
    /// a browser: `POST /v1/portal/sign-in`, then `POST /v1/portal/activation-tickets`.
    func ticket(for user: String) async throws -> Ticket {
        let ticket = try await post("/v1/portal/activation-tickets", json: nil, bearer: signIn(user))
        return try JSONDecoder().decode(Ticket.self, from: ticket)
    }

    private struct PortalDevice: Decodable {
        let credentialId: String

        enum CodingKeys: String, CodingKey {
            case credentialId = "credential_id"
        }
    }

    /// The credential ids of the devices `user` has enrolled, as the portal lists them.
    func credentialIds(of user: String) async throws -> [String] {
        let devices = try await request("GET", "/v1/portal/devices", json: nil, bearer: signIn(user))
        return try JSONDecoder().decode([PortalDevice].self, from: devices).map(\.credentialId)
    }

    private func signIn(_ user: String) async throws -> String {
        let reply = try await post("/v1/portal/sign-in", json: ["username": user, "password": portalPassword], bearer: nil)
        return try JSONDecoder().decode(SignIn.self, from: reply).portalToken
    }

    private func post(_ path: String, json: [String: String]?, bearer: String?) async throws -> Data {
        try await request("POST", path, json: json, bearer: bearer)
    }

    private func request(_ method: String, _ path: String, json: [String: String]?, bearer: String?) async throws -> Data {
        var request = URLRequest(url: try XCTUnwrap(URL(string: url + path)))
        request.httpMethod = method
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let bearer {
            request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw PortalRefused(status: status, body: String(decoding: data, as: UTF8.self))
        }
        return data
    }
}

/// A portal user name no other run against the same server has used: `alice-1a2b3c4d`.
func uniqueUser(_ name: String) -> String {
    "\(name)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// A PIN that passes the core's rules.
let pin = "4829"

/// Thrown by a stand-in that plays a broken platform service.
struct PlatformFailure: Error, CustomStringConvertible {
    let description: String
}

/// The phone's secure storage, in memory: the stand-in for the Keychain. `failWrites` makes
/// every write throw, as a full or broken disk would.
final class InMemorySecureStore: SecureStore, @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Data] = [:]
    private var failing = false

    var failWrites: Bool {
        get { locked { failing } }
        set { locked { failing = newValue } }
    }

    /// The keys stored so far.
    var keys: Set<String> { locked { Set(values.keys) } }

    func load(key: String) throws -> Data? {
        locked { values[key] }
    }

    func save(key: String, value: Data) throws {
        try locked {
            if failing { throw PlatformFailure(description: "disk full") }
            values[key] = value
        }
    }

    func remove(key: String) throws {
        locked { values[key] = nil }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// The person at the PIN pad or biometric prompt, scripted: queued answers first, then the
/// standing PIN (or a cancel when there is none). Records every PIN request.
final class ScriptedVerifier: UserVerifier, @unchecked Sendable {
    private let lock = NSLock()
    private var standing: String?
    private var pins: [String] = []
    private var biometrics: [BiometricOutcome] = []
    private var requests: [PinRequest] = []

    init(standingPin: String? = pin) {
        standing = standingPin
    }

    /// The PIN typed whenever nothing is queued; nil cancels.
    var standingPin: String? {
        get { locked { standing } }
        set { locked { standing = newValue } }
    }

    /// Every PIN request seen so far, oldest first.
    var pinRequests: [PinRequest] { locked { requests } }

    /// Queues PINs to type, in order.
    func type(_ pins: String...) {
        locked { self.pins += pins }
    }

    /// Queues outcomes of the biometric prompt, in order.
    func answerBiometric(_ outcomes: BiometricOutcome...) {
        locked { biometrics += outcomes }
    }

    func requestPin(request: PinRequest) async throws -> PinEntry {
        locked { () -> PinEntry in
            requests.append(request)
            if !pins.isEmpty { return .entered(pin: pins.removeFirst()) }
            if let standing = self.standing { return .entered(pin: standing) }
            return .cancelled
        }
    }

    func verifyBiometric(reason: String) async throws -> BiometricOutcome {
        locked { biometrics.isEmpty ? .cancelled : biometrics.removeFirst() }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// Keeps every log line the core sends.
final class CollectingLogSink: LogSink, @unchecked Sendable {
    struct Line {
        let level: LogLevel
        let target: String
        let message: String
    }

    private let lock = NSLock()
    private var kept: [Line] = []

    var lines: [Line] {
        lock.lock()
        defer { lock.unlock() }
        return kept
    }

    func log(level: LogLevel, target: String, message: String) throws {
        lock.lock()
        defer { lock.unlock() }
        kept.append(Line(level: level, target: target, message: message))
    }
}

/// A phone: the real core through the Swift bindings and the shell's `IbKey` facade, with real
/// HTTP (`URLSessionTransport`) and real software keys; only storage and the person are
/// stand-ins.
final class Phone {
    let store: InMemorySecureStore
    let user: ScriptedVerifier
    let ibkey: IbKey

    init(
        serverUrl: String,
        store: InMemorySecureStore = InMemorySecureStore(),
        user: ScriptedVerifier = ScriptedVerifier(),
        method: VerificationMethod = .pin,
        http: HttpTransport = URLSessionTransport(),
        diagnostics: Diagnostics? = nil
    ) throws {
        self.store = store
        self.user = user
        ibkey = try IbKey(
            config: AuthenticatorConfig(
                serverUrl: serverUrl,
                deviceName: "XCTest phone",
                verification: method,
                pinPolicy: PinPolicy(hashTargetMs: 5)
            ),
            store: store,
            keys: softwareKeyVault(store: store),
            verifier: user,
            http: http,
            diagnostics: diagnostics
        )
    }
}

/// Diagnostics over a fresh temporary folder, sending to `serverUrl`; offline tries end fast.
func makeDiagnostics(serverUrl: String) throws -> Diagnostics {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ibkey-diag-\(UUID().uuidString)")
    return try Diagnostics(
        config: DiagnosticsConfig(
            dir: dir.path,
            serverUrl: serverUrl,
            app: AppInfo(appName: "ibkey XCTests", appVersion: "1.0", platform: "ios", osVersion: "", deviceModel: "test"),
            upload: UploadPolicy(maxAttempts: 2, firstBackoffMs: 20)
        ),
        http: URLSessionTransport(),
        sleeper: TaskSleeper()
    )
}

extension ActivationOutcome {
    /// The user of a fresh activation; fails the test for anything else.
    func activatedUser(file: StaticString = #filePath, line: UInt = #line) -> String? {
        guard case let .activated(account) = self else {
            XCTFail("expected a fresh activation, got \(self)", file: file, line: line)
            return nil
        }
        return account.username
    }
}

/// Runs `body`, which must fail with an `E`, and returns that error (nil after recording a
/// failure).
func expectError<E: Error, T>(
    _ errorType: E.Type,
    file: StaticString = #filePath,
    line: UInt = #line,
    _ body: () async throws -> T
) async -> E? {
    do {
        let value = try await body()
        XCTFail("expected \(E.self), got \(value)", file: file, line: line)
    } catch let error as E {
        return error
    } catch {
        XCTFail("expected \(E.self), got \(type(of: error)): \(error)", file: file, line: line)
    }
    return nil
}

/// Skips the test when this test process may not use the Keychain: a test bundle without a
/// signed host app has no keychain entitlement (errSecMissingEntitlement, -34018).
func skipWithoutKeychain(_ error: Error) throws {
    if "\(error)".contains("-34018") {
        throw XCTSkip("no keychain access from this test process (errSecMissingEntitlement); run the tests in a signed host app")
    }
}
