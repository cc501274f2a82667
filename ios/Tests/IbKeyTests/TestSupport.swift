import Darwin
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
///
/// `start(...)` instead runs a server of this test process's own (macOS only: it needs
/// `Process`), with options the shared ones lack, such as a push gateway (`PushInbox`); see
/// `start` for where it finds the `ibkey` CLI.
struct TestServer {
    let url: String
    let portalPassword: String
    /// The server's signing key (base64url SEC1) as it publishes it in its data folder: what
    /// an app ships in its configuration.
    let publicKey: String?
    /// The server process when this test process started it (`start`); nil for a shared one.
    private let owned: OwnedServer?

    init(url: String, portalPassword: String, publicKey: String?, owned: OwnedServer? = nil) {
        self.url = url
        self.portalPassword = portalPassword
        self.publicKey = publicKey
        self.owned = owned
    }

    static func fromEnvironment(_ variable: String = "IBKEY_TEST_SERVER") throws -> TestServer {
        let environment = ProcessInfo.processInfo.environment
        guard var url = environment[variable], !url.isEmpty else {
            throw XCTSkip("\(variable) is not set; see ios/README.md (ios/run-tests.sh sets it)")
        }
        while url.hasSuffix("/") { url.removeLast() }
        // ios/run-tests.sh exports each server's key beside its URL, as IBKEY_TEST_SERVER_KEY
        // for IBKEY_TEST_SERVER (and so on).
        let key = environment[variable.replacingOccurrences(of: "IBKEY_TEST_SERVER", with: "IBKEY_TEST_SERVER_KEY")]
        return TestServer(
            url: url,
            portalPassword: environment["IBKEY_TEST_PORTAL_PASSWORD"] ?? "ibkey-demo",
            publicKey: key
        )
    }

    /// Starts a reference server (`ibkey server`) of this test's own on a free loopback port,
    /// with its data in a temporary folder: `challengeLifetimeSecs` and `ticketLifetimeSecs`
    /// override how long login challenges and activation tickets stay valid; with
    /// `pushWebhook`, login notifications are posted there (see `PushInbox`). Stop it with
    /// `stop()`.
    ///
    /// The CLI is `IBKEY_CLI` when set, else `$CARGO_TARGET_DIR/debug/ibkey`, else the
    /// workspace's `target/debug/ibkey` (what `ios/run-tests.sh` builds). Skips the test when
    /// there is none, and on iOS, where a test cannot start a process.
    static func start(
        challengeLifetimeSecs: Int? = nil,
        pushWebhook: String? = nil,
        ticketLifetimeSecs: Int? = nil
    ) async throws -> TestServer {
        #if os(macOS)
        let cli = try cliPath()
        let dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("ibkey-server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        let logFile = dataDir.appendingPathComponent("server.log")
        guard FileManager.default.createFile(atPath: logFile.path, contents: nil) else {
            throw PlatformFailure(description: "could not create \(logFile.path)")
        }
        var arguments = ["server", "--listen", "127.0.0.1:0", "--data-dir", dataDir.path]
        if let ticketLifetimeSecs { arguments += ["--ticket-lifetime", String(ticketLifetimeSecs)] }
        if let challengeLifetimeSecs { arguments += ["--challenge-lifetime", String(challengeLifetimeSecs)] }
        if let pushWebhook { arguments += ["--push-webhook", pushWebhook] }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: cli)
        process.arguments = arguments
        let output = try FileHandle(forWritingTo: logFile)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try? output.close() // the server has its own copy
        let owned = OwnedServer(process: process, dataDir: dataDir)
        let password = ProcessInfo.processInfo.environment["IBKEY_TEST_PORTAL_PASSWORD"] ?? "ibkey-demo"

        // It prints "ibkey server listening on http://127.0.0.1:PORT (data in ...)": tickets
        // and challenges name exactly that URL.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let printed = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            if let url = listeningUrl(in: printed) {
                let published = dataDir.appendingPathComponent("server").appendingPathComponent("server-key.pub")
                let key = (try? String(contentsOf: published, encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                let server = TestServer(url: url, portalPassword: password, publicKey: key, owned: owned)
                if await server.isHealthy() { return server }
            }
            guard process.isRunning else {
                owned.stop()
                throw PlatformFailure(description: "the server exited: \(printed)")
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let printed = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        owned.stop()
        throw PlatformFailure(description: "the server did not become healthy within 30 s: \(printed)")
        #else
        throw XCTSkip("a test can start a reference server only on macOS (swift test); see ios/README.md")
        #endif
    }

    /// Stops the server if this test process started it (a shared one keeps running).
    func stop() {
        owned?.stop()
    }

    #if os(macOS)
    /// The `ibkey` CLI to start servers with.
    private static func cliPath() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let cli = environment["IBKEY_CLI"], !cli.isEmpty { candidates.append(cli) }
        if let target = environment["CARGO_TARGET_DIR"], !target.isEmpty { candidates.append(target + "/debug/ibkey") }
        // This file is ios/Tests/IbKeyTests/TestSupport.swift in the workspace.
        let workspace = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent() // IbKeyTests
            .deletingLastPathComponent() // Tests
            .deletingLastPathComponent() // ios
            .deletingLastPathComponent()
        candidates.append(workspace.appendingPathComponent("target/debug/ibkey").path)
        guard let cli = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no ibkey CLI at \(candidates.joined(separator: " or ")): run cargo build -p ibkey (ios/run-tests.sh does) or set IBKEY_CLI")
        }
        return cli
    }

    /// The URL in the server's "listening on" line, once it is printed.
    private static func listeningUrl(in printed: String) -> String? {
        let marker = "ibkey server listening on "
        guard let start = printed.range(of: marker)?.upperBound else { return nil }
        let rest = printed[start...]
        guard let end = rest.firstIndex(where: { $0 == " " || $0 == "\n" }) else { return nil }
        var url = String(rest[..<end])
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
    #endif

    /// Whether the server answers `/healthz`.
    private func isHealthy() async -> Bool {
        guard let reply = try? await request("GET", "/healthz", json: nil, bearer: nil) else { return false }
        return String(decoding: reply, as: UTF8.self) == "ok"
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

    private struct MoveStart: Decodable {
        let sentTo: String
        let replaces: [String]

        enum CodingKeys: String, CodingKey {
            case sentTo = "sent_to"
            case replaces
        }
    }

    /// What the portal's "Move IB Key to a new phone" shows once the user typed the code sent to
    /// them: where the code went, the devices the move replaces, and the move ticket.
    struct Move {
        let codeSentTo: String
        let replaces: [String]
        let ticket: Ticket
    }

    /// `user` signs in to the portal on a computer and chooses "Move IB Key to a new phone"
    /// (`POST /v1/portal/move`: a code goes out of band), reads the code (`outOfBandCode`) and
    /// types it back (`POST /v1/portal/move/confirm`) for the move ticket.
    func move(_ user: String) async throws -> Move {
        let portal = try await signIn(user)
        let started = try JSONDecoder().decode(MoveStart.self, from: try await post("/v1/portal/move", json: nil, bearer: portal))
        let code = try outOfBandCode(user)
        let ticket = try await post("/v1/portal/move/confirm", json: ["code": code], bearer: portal)
        return Move(codeSentTo: started.sentTo, replaces: started.replaces, ticket: try JSONDecoder().decode(Ticket.self, from: ticket))
    }

    /// The last one-time code the server sent `user` out of band (for a move or a recovery), as
    /// the user's inbox shows it: read by `ibkey outbox` from the data of a server this test
    /// process started (`start`).
    func outOfBandCode(_ user: String) throws -> String {
        #if os(macOS)
        guard let dataDir = owned?.dataDir else {
            throw XCTSkip("the out-of-band outbox is read from a server this test started (TestServer.start)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.cliPath())
        process.arguments = ["outbox", "--user", user, "--data-dir", dataDir.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // Its first line is "code: 123456".
        guard process.terminationStatus == 0,
              let first = output.split(separator: "\n").first, first.hasPrefix("code: ")
        else {
            throw PlatformFailure(description: "ibkey outbox printed no code for \(user): \(output)")
        }
        return String(first.dropFirst("code: ".count))
        #else
        throw XCTSkip("the out-of-band outbox is read with the ibkey CLI, only on macOS (swift test)")
        #endif
    }

    /// `user` turns login notifications on or off on the portal's account page.
    func setLoginNotifications(_ user: String, enabled: Bool) async throws {
        _ = try await post("/v1/portal/push-approvals", json: ["enabled": enabled], bearer: signIn(user))
    }

    /// The credential ids of the devices `user` has enrolled, as the portal lists them.
    func credentialIds(of user: String) async throws -> [String] {
        let devices = try await request("GET", "/v1/portal/devices", json: nil, bearer: signIn(user))
        return try JSONDecoder().decode([PortalDevice].self, from: devices).map(\.credentialId)
    }

    /// A login on the login page once the password was accepted: what the page shows.
    struct LoginPage: Decodable {
        let loginId: String
        let secret: String
        /// The number to match on the phone.
        let number: UInt8
        let expiresAt: Int64
        let devicesNotified: Int
        /// Set while login notifications for the user are paused after a fraud report.
        let pushesMutedUntil: Int64?

        enum CodingKeys: String, CodingKey {
            case loginId = "login_id"
            case secret = "login_secret"
            case number
            case expiresAt = "expires_at"
            case devicesNotified = "devices_notified"
            case pushesMutedUntil = "pushes_muted_until"
        }
    }

    private struct LoginStatus: Decodable {
        let state: String
    }

    private struct LoginQr: Decodable {
        let qrPayload: String

        enum CodingKeys: String, CodingKey {
            case qrPayload = "qr_payload"
        }
    }

    private struct OfflineChallenge: Decodable {
        let challenge: String
    }

    /// `user` types the portal password into the login page (`POST /v1/logins`): the server
    /// notifies the user's phones.
    func startLogin(_ user: String) async throws -> LoginPage {
        let reply = try await post("/v1/logins", json: ["username": user, "password": portalPassword], bearer: nil)
        return try JSONDecoder().decode(LoginPage.self, from: reply)
    }

    /// Where `login` stands (`pending`, `approved`, `denied`, `reported_fraud`, `wrong_number`,
    /// `expired`), as the login page sees it.
    func loginState(_ login: LoginPage) async throws -> String {
        let reply = try await request("GET", "/v1/logins/\(login.loginId)", json: nil, bearer: login.secret)
        return try JSONDecoder().decode(LoginStatus.self, from: reply).state
    }

    /// The login page's "log in with QR code": the text of the QR code it shows.
    func loginQr(_ login: LoginPage) async throws -> String {
        let reply = try await post("/v1/logins/\(login.loginId)/qr", json: nil, bearer: login.secret)
        return try JSONDecoder().decode(LoginQr.self, from: reply).qrPayload
    }

    /// The login page's "challenge/response": the challenge it shows (`123 456`).
    func offlineChallenge(_ login: LoginPage) async throws -> String {
        let reply = try await post("/v1/logins/\(login.loginId)/offline", json: nil, bearer: login.secret)
        return try JSONDecoder().decode(OfflineChallenge.self, from: reply).challenge
    }

    /// Types the phone's `response` into the login page: the HTTP status and the reply (the
    /// login's status, or the error), whatever the status.
    func submitResponse(_ login: LoginPage, _ response: String) async throws -> (Int, String) {
        let (status, reply) = try await send("POST", "/v1/logins/\(login.loginId)/response", json: ["response": response], bearer: login.secret)
        return (status, String(decoding: reply, as: UTF8.self))
    }

    /// Types a time-based `code` from the phone into the login page, like `submitResponse`.
    func submitTimeCode(_ login: LoginPage, _ code: String) async throws -> (Int, String) {
        let (status, reply) = try await send("POST", "/v1/logins/\(login.loginId)/code", json: ["code": code], bearer: login.secret)
        return (status, String(decoding: reply, as: UTF8.self))
    }

    private func signIn(_ user: String) async throws -> String {
        let reply = try await post("/v1/portal/sign-in", json: ["username": user, "password": portalPassword], bearer: nil)
        return try JSONDecoder().decode(SignIn.self, from: reply).portalToken
    }

    private func post(_ path: String, json: [String: Any]?, bearer: String?) async throws -> Data {
        try await request("POST", path, json: json, bearer: bearer)
    }

    private func request(_ method: String, _ path: String, json: [String: Any]?, bearer: String?) async throws -> Data {
        let (status, data) = try await send(method, path, json: json, bearer: bearer)
        guard (200..<300).contains(status) else {
            throw PortalRefused(status: status, body: String(decoding: data, as: UTF8.self))
        }
        return data
    }

    /// One request: the HTTP status and the reply's body, whatever the status.
    private func send(_ method: String, _ path: String, json: [String: Any]?, bearer: String?) async throws -> (Int, Data) {
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
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }
}

/// A reference server process a test started (`TestServer.start`); stopped by `stop()` or
/// when released.
final class OwnedServer {
    #if os(macOS)
    private let process: Process
    /// The server's `--data-dir`.
    let dataDir: URL

    init(process: Process, dataDir: URL) {
        self.process = process
        self.dataDir = dataDir
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: dataDir)
    }
    #else
    func stop() {}
    #endif

    deinit {
        stop()
    }
}

/// A push gateway on a loopback port: the reference server's webhook push sender
/// (`ibkey server --push-webhook URL`, see `TestServer.start`) posts each login notification
/// here as JSON (`username`, `credential_id`, `platform`, `push_token`, and `payload`, a
/// string holding the notification's data), as it would to the bank's APNs gateway. `next`
/// gives the data the phone would receive. A BSD socket served by one thread; each request
/// gets `204 No Content` and the connection is closed.
final class PushInbox: @unchecked Sendable {
    /// Where the server posts.
    let url: String
    private let listener: Int32
    private let condition = NSCondition()
    private var received: [Data] = []
    private var closed = false

    init() throws {
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        guard fd >= 0 else { throw PushInbox.failure("socket") }
        var address = sockaddr_in()
        address.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0 // any free port
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard listening else {
            let error = PushInbox.failure("bind")
            Darwin.close(fd)
            throw error
        }
        listener = fd
        url = "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/push"
        Thread.detachNewThread { [self] in serve() }
    }

    /// The data of the next notification for `user` (the push message's `payload`: `type` and
    /// `challenge`), as a notification's `userInfo` holds it; notifications for other users
    /// are dropped. Fails after `timeoutSecs` without one.
    func next(user: String, timeoutSecs: TimeInterval = 10) throws -> [AnyHashable: Any] {
        let deadline = Date().addingTimeInterval(timeoutSecs)
        while true {
            guard let message = take(until: deadline) else {
                throw PlatformFailure(description: "no push for \(user) within \(Int(timeoutSecs)) s")
            }
            let text = String(decoding: message, as: UTF8.self)
            guard let json = (try? JSONSerialization.jsonObject(with: message)) as? [String: Any] else {
                throw PlatformFailure(description: "a push message that is not a JSON object: \(text)")
            }
            guard (json["username"] as? String) == user else { continue }
            var payload = json["payload"]
            if let string = payload as? String {
                payload = try? JSONSerialization.jsonObject(with: Data(string.utf8))
            }
            guard let data = payload as? [String: Any] else {
                throw PlatformFailure(description: "a push without a JSON object payload: \(text)")
            }
            var userInfo: [AnyHashable: Any] = [:]
            for (key, value) in data {
                userInfo[key] = value
            }
            return userInfo
        }
    }

    /// How many notifications arrived and were not taken yet.
    var waiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return received.count
    }

    /// Stops listening (within a tenth of a second).
    func close() {
        condition.lock()
        closed = true
        condition.unlock()
    }

    private var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    private func take(until deadline: Date) -> Data? {
        condition.lock()
        defer { condition.unlock() }
        while received.isEmpty {
            if !condition.wait(until: deadline) { break }
        }
        return received.isEmpty ? nil : received.removeFirst()
    }

    private func serve() {
        while !isClosed {
            var pending = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pending, 1, 100) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let body = readBody(client)
            let reply = body == nil
                ? "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                : "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
            let bytes = Array(reply.utf8)
            _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, 0) }
            Darwin.close(client)
            if let body {
                condition.lock()
                received.append(body)
                condition.broadcast()
                condition.unlock()
            }
        }
        Darwin.close(listener)
    }

    /// The body of the HTTP request on `client` (sized by its Content-Length), nil when the
    /// request breaks off or takes over 5 seconds.
    private func readBody(_ client: Int32) -> Data? {
        var on: Int32 = 1
        _ = setsockopt(client, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let endOfHead = Data("\r\n\r\n".utf8)
        let chunkSize = 4096
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var request = Data()
        var bodyStart: Int?
        var bodyLength = 0
        while true {
            if bodyStart == nil, let end = request.range(of: endOfHead) {
                bodyStart = end.upperBound
                let head = String(decoding: request[..<end.lowerBound], as: UTF8.self)
                for line in head.components(separatedBy: "\r\n") {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "content-length" {
                        bodyLength = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
                    }
                }
            }
            if let start = bodyStart, request.count - start >= bodyLength {
                return request.subdata(in: start..<(start + bodyLength))
            }
            let count = recv(client, &chunk, chunkSize, 0)
            guard count > 0 else { return nil }
            request.append(contentsOf: chunk[0..<count])
        }
    }

    private static func failure(_ call: String) -> PlatformFailure {
        PlatformFailure(description: "\(call): \(String(cString: strerror(errno)))")
    }
}

/// The base of the test classes that start a reference server of their own whose login
/// notifications go to a `PushInbox` (`TestServer.start(pushWebhook:)`, macOS only): each test
/// gets a fresh `server` and its `pushes`, both stopped after it. Holds no tests itself.
class PushServerTestCase: XCTestCase {
    /// What the server's push gateway received: what the phone would get from APNs.
    private(set) var pushes: PushInbox!
    /// This test's own server, posting its login notifications to `pushes`.
    private(set) var server: TestServer!

    /// Opens the push inbox, then starts the server that posts to it (closing the inbox again
    /// when the server does not start).
    override func setUp() async throws {
        let inbox = try PushInbox()
        do {
            server = try await TestServer.start(pushWebhook: inbox.url)
        } catch {
            inbox.close()
            throw error
        }
        pushes = inbox
    }

    /// Stops the server and closes the inbox.
    override func tearDown() {
        server?.stop()
        pushes?.close()
        super.tearDown()
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

/// The phone's secure storage, in memory: the stand-in for the Keychain, with its generation
/// and its lock. `failWrites` makes every write throw, as a full or broken disk would.
final class InMemorySecureStore: SecureStore, @unchecked Sendable {
    private let stateLock = NSLock()
    private let storeLock = NSLock()
    private var values: [String: Data] = [:]
    private var failing = false
    private var currentGeneration: UInt64 = 0

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

    func generation() throws -> UInt64 {
        locked { currentGeneration }
    }

    func raiseGeneration(generation: UInt64) throws {
        try locked {
            if generation < currentGeneration {
                throw StoreError.WriteFailed(reason: "the store's generation cannot go down")
            }
            currentGeneration = generation
        }
    }

    func lock() throws {
        storeLock.lock()
    }

    func unlock() throws {
        storeLock.unlock()
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        stateLock.lock()
        defer { stateLock.unlock() }
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
            if !pins.isEmpty { return .entered(pin: Data(pins.removeFirst().utf8)) }
            if let standing = self.standing { return .entered(pin: Data(standing.utf8)) }
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
/// stand-ins. The keys are kept in `keyStore`, the app's `store` unless given: a store of its
/// own plays the Keychain, which keeps them when the app is deleted, so a new `Phone` over the
/// same `keyStore` is that phone after a reinstall.
final class Phone {
    let store: InMemorySecureStore
    let user: ScriptedVerifier
    let ibkey: IbKey

    init(
        serverUrl: String,
        serverKey: String?,
        store: InMemorySecureStore = InMemorySecureStore(),
        user: ScriptedVerifier = ScriptedVerifier(),
        method: VerificationMethod = .pin,
        http: HttpTransport = URLSessionTransport(),
        diagnostics: Diagnostics? = nil,
        keyStore: InMemorySecureStore? = nil,
        deviceName: String = "XCTest phone"
    ) throws {
        self.store = store
        self.user = user
        ibkey = try IbKey(
            config: AuthenticatorConfig(
                serverUrl: serverUrl,
                serverPublicKey: serverKey,
                deviceName: deviceName,
                verification: method,
                pinPolicy: PinPolicy(hashTargetMs: 5)
            ),
            store: store,
            keys: softwareKeyVault(store: keyStore ?? store),
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
