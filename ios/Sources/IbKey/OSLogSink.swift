import Foundation
import os

/// The core's `LogSink` on the unified log (Console.app, `log stream`), at the matching level.
/// Install it with `diagnostics.setLogSink(sink: OSLogSink(), level: .info)`.
///
/// Lines are logged as public: the core never logs secrets (no PINs, keys, tokens or whole
/// session IDs), and support needs to read them in a sysdiagnose.
public final class OSLogSink: LogSink, @unchecked Sendable {
    private let logger: Logger

    public init(subsystem: String = Bundle.main.bundleIdentifier ?? "io.ibkey", category: String = "ibkey") {
        logger = Logger(subsystem: subsystem, category: category)
    }

    public func log(level: LogLevel, target: String, message: String) throws {
        switch level {
        case .error:
            logger.error("\(target, privacy: .public): \(message, privacy: .public)")
        case .warn:
            logger.warning("\(target, privacy: .public): \(message, privacy: .public)")
        case .info:
            logger.info("\(target, privacy: .public): \(message, privacy: .public)")
        case .debug:
            logger.debug("\(target, privacy: .public): \(message, privacy: .public)")
        case .trace:
            logger.trace("\(target, privacy: .public): \(message, privacy: .public)")
        }
    }
}
