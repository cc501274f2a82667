package io.ibkey.testsupport

import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/**
 * A push gateway on a loopback port: the reference server's webhook push sender
 * (`ibkey server --push-webhook URL`) posts each notification (logins, the doctor's test
 * notifications) here, as it would to the bank's FCM/APNs gateway. [next] gives the data the
 * phone would receive.
 */
class PushInbox : AutoCloseable {
    private val received = LinkedBlockingQueue<String>()
    private val server: HttpServer = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
        createContext("/") { exchange ->
            val body = exchange.requestBody.use { it.readBytes().decodeToString() }
            received += body
            exchange.sendResponseHeaders(204, -1)
            exchange.close()
        }
        start()
    }

    /** Where the server posts. */
    val url: String = "http://127.0.0.1:${server.address.port}/push"

    /**
     * The data of the next notification for [user] as FCM hands it to the app: the fields of the
     * push message's `payload` (a flat JSON object: `type` and `challenge` for a login; `type`,
     * `id` and `sent_at_ms` for a test notification), every value a string. Fails after
     * [timeoutSecs] without one.
     */
    fun next(user: String, timeoutSecs: Long = 10): Map<String, String> {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSecs)
        while (true) {
            val left = deadline - System.nanoTime()
            check(left > 0) { "no push for $user within $timeoutSecs s" }
            val message = received.poll(left, TimeUnit.NANOSECONDS) ?: continue
            if (message.jsonString("username") != user) continue
            return dataMap(message.jsonStringValue("payload"))
        }
    }

    /** How many notifications arrived and were not taken yet. */
    fun waiting(): Int = received.size

    override fun close() = server.stop(0)
}

/** The string and integer fields of a flat JSON object, each as a string. */
private fun dataMap(json: String): Map<String, String> =
    Regex("\"([^\"]+)\"\\s*:\\s*(?:\"([^\"]*)\"|(-?\\d+))").findAll(json)
        .associate { field -> field.groupValues[1] to field.groupValues[2].ifEmpty { field.groupValues[3] } }

/** The string value of [field] in a JSON object, escapes undone (enough for a push message). */
private fun String.jsonStringValue(field: String): String {
    val start = Regex("\"$field\"\\s*:\\s*\"").find(this)?.range?.last?.plus(1)
        ?: error("no string field $field in $this")
    val value = StringBuilder()
    var i = start
    while (i < length && this[i] != '"') {
        if (this[i] == '\\' && i + 1 < length) {
            i++
            value.append(if (this[i] == 'n') '\n' else this[i])
        } else {
            value.append(this[i])
        }
        i++
    }
    return value.toString()
}
