package io.ibkey.android.common

import io.ibkey.core.HttpHeader
import io.ibkey.core.HttpRequest
import io.ibkey.core.HttpResponse
import io.ibkey.core.HttpTransport
import io.ibkey.core.TransportException
import java.io.ByteArrayOutputStream
import java.io.IOException
import java.io.InputStream
import java.net.HttpURLConnection
import java.net.URI
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/**
 * The core's [HttpTransport] over `java.net.HttpURLConnection`, run on [dispatcher].
 *
 * It sends exactly what the core asks for and returns any reply, whatever its status: the core
 * reads the status and the body. It fails only when there is no reply at all, with
 * [TransportException.Unreachable]. Redirects are not followed and nothing is cached.
 *
 * A reply body is read up to [maxResponseBytes] plus one byte, so a hostile server cannot
 * exhaust memory; the core refuses a body that big.
 */
class HttpUrlConnectionTransport(
    private val connectTimeoutMillis: Int = 15_000,
    private val readTimeoutMillis: Int = 30_000,
    private val maxResponseBytes: Int = 1 shl 20,
    private val dispatcher: CoroutineDispatcher = Dispatchers.IO,
) : HttpTransport {

    override suspend fun send(request: HttpRequest): HttpResponse = withContext(dispatcher) {
        try {
            exchange(request)
        } catch (e: IOException) {
            throw TransportException.Unreachable(e.message ?: e.javaClass.simpleName)
        } catch (e: IllegalArgumentException) {
            throw TransportException.Unreachable("bad request URL: ${e.message}")
        }
    }

    private fun exchange(request: HttpRequest): HttpResponse {
        val connection = URI(request.url).toURL().openConnection() as HttpURLConnection
        try {
            connection.requestMethod = request.method
            connection.connectTimeout = connectTimeoutMillis
            connection.readTimeout = readTimeoutMillis
            connection.instanceFollowRedirects = false
            connection.useCaches = false
            for (header in request.headers) {
                connection.addRequestProperty(header.name, header.value)
            }
            if (request.body.isNotEmpty()) {
                // Buffered (no streaming mode), so the small body leaves in the same TCP segment
                // as the headers: two writes would meet Nagle's algorithm and delayed ACKs and
                // wait about 40 ms a request.
                connection.doOutput = true
                connection.outputStream.use { it.write(request.body) }
            }
            val status = connection.responseCode
            val stream = if (status >= 400) connection.errorStream else connection.inputStream
            val body = stream?.use { it.readAtMost(maxResponseBytes + 1) } ?: ByteArray(0)
            val headers = connection.headerFields.flatMap { (name, values) ->
                if (name == null) emptyList() else values.map { HttpHeader(name.lowercase(), it) }
            }
            return HttpResponse(status.toUShort(), headers, body)
        } finally {
            connection.disconnect()
        }
    }
}

private fun InputStream.readAtMost(limit: Int): ByteArray {
    val out = ByteArrayOutputStream()
    val chunk = ByteArray(8 * 1024)
    while (out.size() < limit) {
        val n = read(chunk, 0, minOf(chunk.size, limit - out.size()))
        if (n < 0) break
        out.write(chunk, 0, n)
    }
    return out.toByteArray()
}
