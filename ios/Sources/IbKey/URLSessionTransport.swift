import Foundation

/// The core's `HttpTransport` over URLSession.
///
/// It sends exactly what the core asks for and returns any reply, whatever its status: the core
/// reads the status and the body. It fails only when there is no reply at all, with
/// `TransportError.Unreachable`. Redirects are not followed, and nothing is cached or kept
/// (no cookies, no URL cache).
///
/// A reply body is read up to `maxResponseBytes` plus one byte, so a hostile server cannot
/// exhaust memory; the core refuses a body that big.
public final class URLSessionTransport: HttpTransport, @unchecked Sendable {
    private let session: URLSession
    private let maxResponseBytes: Int

    public init(timeout: TimeInterval = 30, maxResponseBytes: Int = 1 << 20) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
        self.maxResponseBytes = maxResponseBytes
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public func send(request: HttpRequest) async throws -> HttpResponse {
        guard let url = URL(string: request.url) else {
            throw TransportError.Unreachable(reason: "bad request URL")
        }
        var urlRequest = URLRequest(url: url)
        urlRequest.httpMethod = request.method
        for header in request.headers {
            urlRequest.addValue(header.value, forHTTPHeaderField: header.name)
        }
        if !request.body.isEmpty {
            urlRequest.httpBody = request.body
        }
        do {
            let (bytes, response) = try await session.bytes(for: urlRequest)
            guard let reply = response as? HTTPURLResponse else {
                bytes.task.cancel()
                throw TransportError.Unreachable(reason: "the reply is not HTTP")
            }
            var body = Data()
            for try await byte in bytes {
                body.append(byte)
                if body.count > maxResponseBytes { break }
            }
            bytes.task.cancel() // only does something when the body was cut short
            var headers: [HttpHeader] = []
            for (name, value) in reply.allHeaderFields {
                guard let name = name as? String else { continue }
                headers.append(HttpHeader(name: name.lowercased(), value: "\(value)"))
            }
            return HttpResponse(status: UInt16(clamping: reply.statusCode), headers: headers, body: body)
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError.Unreachable(reason: error.localizedDescription)
        }
    }
}

/// Hands a redirect back to the core as the reply it is, instead of following it.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest,
        completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
