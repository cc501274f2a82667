package io.ibkey.testsupport

import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/** A ticket from the portal: what the activation page shows. */
data class Ticket(val sessionId: String, val qrPayload: String, val expiresAt: Long)

/**
 * What the portal's "Move IB Key to a new phone" shows once the user typed the code sent to
 * them: where the code went, the devices the move replaces, and the move ticket for the new
 * phone.
 */
data class Move(val codeSentTo: String, val replaces: List<String>, val ticket: Ticket)

/** A login on the login page once the password was accepted: what the page shows. */
data class LoginPage(
    val loginId: String,
    val secret: String,
    /** The number to match on the phone. */
    val number: Int,
    val devicesNotified: Int,
    /** Set while login notifications for the user are paused after a fraud report. */
    val pushesMutedUntil: Long?,
)

/**
 * The real reference server (`ibkey server`, the workspace's CLI binary, path in the system
 * property `ibkey.cli`) on a free loopback port, with its data in a temporary folder, and a
 * small client for its portal endpoints: what a user does in the browser. Shared by the JVM
 * suites (tests/kotlin, tests/android), which add this folder as a test source.
 */
class ReferenceServer private constructor(
    val url: String,
    private val process: Process,
    private val dataDir: Path,
) : AutoCloseable {

    /**
     * The server's signing key (base64url SEC1) as it publishes it in its data folder: what an
     * app ships in its configuration.
     */
    val publicKey: String
        get() = dataDir.resolve("server").resolve("server-key.pub").toFile().readText().trim()

    /** [user] signs in to the portal and asks for an activation ticket. */
    fun ticket(user: String): Ticket = ticketOf(post("/v1/portal/activation-tickets", "", bearer = signIn(user)))

    /**
     * [user] signs in to the portal on a computer and chooses "Move IB Key to a new phone": the
     * server sends a code out of band, which the user reads ([outOfBandCode]) and types back
     * for the move ticket.
     */
    fun move(user: String): Move {
        val portal = signIn(user)
        val started = post("/v1/portal/move", "", bearer = portal)
        val code = outOfBandCode(user)
        val ticket = ticketOf(post("/v1/portal/move/confirm", """{"code":"$code"}""", bearer = portal))
        return Move(
            codeSentTo = started.jsonString("sent_to"),
            replaces = started.jsonStringArray("replaces"),
            ticket = ticket,
        )
    }

    /**
     * The last one-time code the server sent [user] out of band (by e-mail or SMS, for a move or
     * a recovery), as the user's inbox shows it: read by `ibkey outbox` from the server's data.
     */
    fun outOfBandCode(user: String): String {
        val output = run(cli, "outbox", "--user", user, "--data-dir", dataDir.toString())
        return Regex("^code: (\\d{6})").find(output)?.groupValues?.get(1)
            ?: error("ibkey outbox printed no code for $user: $output")
    }

    /** [user] turns login notifications on or off on the portal's account page. */
    fun setLoginNotifications(user: String, enabled: Boolean) {
        post("/v1/portal/push-approvals", """{"enabled":$enabled}""", bearer = signIn(user))
    }

    /**
     * [user] gets an activation ticket and its QR code as a PNG image, rendered by the CLI
     * (`ibkey ticket --qr-out`) exactly as for a person scanning the portal page.
     */
    fun ticketQrPng(user: String): ByteArray {
        val png = Files.createTempFile(dataDir, "qr-", ".png")
        val output = run(cli, "ticket", "--user", user, "--server", url, "--qr-out", png.toString(),
            "--data-dir", dataDir.resolve("cli").toString())
        check(Files.size(png) > 0) { "ibkey ticket wrote no PNG: $output" }
        return Files.readAllBytes(png)
    }

    /** [user] types the test password into the login page: the server notifies the phones. */
    fun startLogin(user: String): LoginPage {
        val reply = post("/v1/logins", """{"username":"$user","password":"$PORTAL_PASSWORD"}""")
        return LoginPage(
            loginId = reply.jsonString("login_id"),
            secret = reply.jsonString("login_secret"),
            number = reply.jsonLong("number").toInt(),
            devicesNotified = reply.jsonLong("devices_notified").toInt(),
            pushesMutedUntil = Regex("\"pushes_muted_until\"\\s*:\\s*(\\d+)").find(reply)?.groupValues?.get(1)?.toLong(),
        )
    }

    /** Where [login] stands (`pending`, `approved`, `denied`, ...), as the login page sees it. */
    fun loginState(login: LoginPage): String =
        request("GET", "/v1/logins/${login.loginId}", null, bearer = login.secret).jsonString("state")

    /** The login page's "log in with QR code": the text of the QR code it shows. */
    fun loginQr(login: LoginPage): String =
        post("/v1/logins/${login.loginId}/qr", "", bearer = login.secret).jsonString("qr_payload")

    /** The login page's "challenge/response": the challenge it shows (`123 456`). */
    fun offlineChallenge(login: LoginPage): String =
        post("/v1/logins/${login.loginId}/offline", "", bearer = login.secret).jsonString("challenge")

    /**
     * Types the phone's [response] into the login page; gives the HTTP status and the reply
     * (the login's status, or the error).
     */
    fun submitResponse(login: LoginPage, response: String): Pair<Int, String> =
        exchangeWithStatus("POST", "/v1/logins/${login.loginId}/response", """{"response":"$response"}""", login.secret)

    /** Types a time-based [code] from the phone into the login page, like [submitResponse]. */
    fun submitTimeCode(login: LoginPage, code: String): Pair<Int, String> =
        exchangeWithStatus("POST", "/v1/logins/${login.loginId}/code", """{"code":"$code"}""", login.secret)

    /** The credential ids of the devices [user] has enrolled, as the portal lists them. */
    fun portalCredentialIds(user: String): List<String> {
        val body = request("GET", "/v1/portal/devices", null, bearer = signIn(user))
        return Regex("\"credential_id\"\\s*:\\s*\"([^\"]*)\"").findAll(body).map { it.groupValues[1] }.toList()
    }

    /** Support's list of the diagnostics bundles received, as JSON. */
    fun supportBundles(): String = request("GET", "/v1/support/diagnostics", null, bearer = SUPPORT_TOKEN)

    /** The bundle support fetches by the [reference] the user reads out. */
    fun supportBundle(reference: String): ByteArray =
        exchange("GET", "/v1/support/diagnostics/$reference", null, bearer = SUPPORT_TOKEN)

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
        dataDir.toFile().deleteRecursively()
    }

    private fun ticketOf(reply: String) = Ticket(
        sessionId = reply.jsonString("session_id"),
        qrPayload = reply.jsonString("qr_payload"),
        expiresAt = reply.jsonLong("expires_at"),
    )

    private fun signIn(user: String): String =
        post("/v1/portal/sign-in", """{"username":"$user","password":"$PORTAL_PASSWORD"}""")
            .jsonString("portal_token")

    private fun post(path: String, body: String, bearer: String? = null) = request("POST", path, body, bearer)

    private fun request(method: String, path: String, body: String?, bearer: String? = null): String =
        exchange(method, path, body, bearer).decodeToString()

    private fun exchange(method: String, path: String, body: String?, bearer: String? = null): ByteArray {
        val (status, bytes) = send(method, path, body, bearer)
        check(status in 200..299) { "$method $path: HTTP $status ${bytes.decodeToString()}" }
        return bytes
    }

    private fun exchangeWithStatus(method: String, path: String, body: String?, bearer: String?): Pair<Int, String> {
        val (status, bytes) = send(method, path, body, bearer)
        return status to bytes.decodeToString()
    }

    private fun send(method: String, path: String, body: String?, bearer: String?): Pair<Int, ByteArray> {
        val connection = URI(url + path).toURL().openConnection() as HttpURLConnection
        try {
            connection.requestMethod = method
            connection.setRequestProperty("accept", "application/json")
            bearer?.let { connection.setRequestProperty("authorization", "Bearer $it") }
            if (body != null) {
                connection.doOutput = true
                connection.setRequestProperty("content-type", "application/json")
                connection.outputStream.use { it.write(body.toByteArray()) }
            }
            val status = connection.responseCode
            val bytes = (if (status >= 400) connection.errorStream else connection.inputStream)
                ?.use { it.readBytes() } ?: ByteArray(0)
            return status to bytes
        } finally {
            connection.disconnect()
        }
    }

    companion object {
        /** The portal password of every test user. */
        const val PORTAL_PASSWORD = "ibkey-demo"

        /** The reference server's default support token. */
        const val SUPPORT_TOKEN = "ibkey-support"

        /** A loopback port nothing listens on now. */
        fun freePort(): Int = ServerSocket(0).use { it.localPort }

        private val cli: String by lazy {
            val path = System.getProperty("ibkey.cli")
                ?: error("system property ibkey.cli (path of the ibkey CLI binary) is not set")
            check(File(path).canExecute()) { "no ibkey CLI at $path: run cargo build -p ibkey" }
            path
        }

        /**
         * Starts a server, on [port] when given; [ticketLifetimeSecs] and [challengeLifetimeSecs]
         * override how long tickets and login challenges stay valid; with [pushWebhook], login
         * notifications are posted there (see [PushInbox]).
         */
        fun start(
            ticketLifetimeSecs: Int? = null,
            port: Int = freePort(),
            challengeLifetimeSecs: Int? = null,
            pushWebhook: String? = null,
        ): ReferenceServer {
            val dataDir = Files.createTempDirectory("ibkey-server-")
            val command = mutableListOf(cli, "server", "--listen", "127.0.0.1:$port", "--data-dir", dataDir.toString())
            ticketLifetimeSecs?.let { command += listOf("--ticket-lifetime", it.toString()) }
            challengeLifetimeSecs?.let { command += listOf("--challenge-lifetime", it.toString()) }
            pushWebhook?.let { command += listOf("--push-webhook", it) }
            val process = ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(dataDir.resolve("server.log").toFile())
                .start()
            val server = ReferenceServer("http://127.0.0.1:$port", process, dataDir)
            server.awaitHealthy()
            return server
        }

        private fun run(vararg command: String): String {
            val process = ProcessBuilder(*command).redirectErrorStream(true).start()
            val output = process.inputStream.use { it.readBytes().decodeToString() }
            check(process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0) {
                "${command.joinToString(" ")} failed: $output"
            }
            return output
        }
    }

    private fun awaitHealthy() {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (System.nanoTime() < deadline) {
            check(process.isAlive) { "the server exited: ${dataDir.resolve("server.log").toFile().readText()}" }
            val healthy = runCatching { request("GET", "/healthz", null) == "ok" }.getOrDefault(false)
            if (healthy) return
            Thread.sleep(50)
        }
        close()
        error("the server at $url did not become healthy within 30 s")
    }
}

/** The string value of [field] in a flat JSON object (enough for the portal's replies). */
internal fun String.jsonString(field: String): String =
    Regex("\"$field\"\\s*:\\s*\"([^\"]*)\"").find(this)?.groupValues?.get(1)
        ?: error("no string field $field in $this")

/** The strings of the array [field] in a flat JSON object. */
internal fun String.jsonStringArray(field: String): List<String> {
    val items = Regex("\"$field\"\\s*:\\s*\\[([^\\]]*)\\]").find(this)?.groupValues?.get(1)
        ?: error("no array field $field in $this")
    return Regex("\"([^\"]*)\"").findAll(items).map { it.groupValues[1] }.toList()
}

/** The integer value of [field] in a flat JSON object. */
internal fun String.jsonLong(field: String): Long =
    Regex("\"$field\"\\s*:\\s*(-?\\d+)").find(this)?.groupValues?.get(1)?.toLong()
        ?: error("no integer field $field in $this")
