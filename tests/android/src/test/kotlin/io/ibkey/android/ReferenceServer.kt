package io.ibkey.android

import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/**
 * The real reference server (`ibkey server`, the workspace's CLI; its path in the system property
 * `ibkey.cli`) on a free loopback port with its data in a temporary folder, and the portal calls
 * a user makes in the browser. A trimmed copy of tests/kotlin's harness.
 */
class ReferenceServer private constructor(
    val url: String,
    private val process: Process,
    private val dataDir: Path,
) : AutoCloseable {

    /** [user] signs in to the portal and asks for an activation ticket; returns its session ID. */
    fun sessionId(user: String): String {
        val token = post("/v1/portal/sign-in", """{"username":"$user","password":"ibkey-demo"}""", null)
            .jsonString("portal_token")
        return post("/v1/portal/activation-tickets", "", token).jsonString("session_id")
    }

    /** The credential ids of the devices [user] has enrolled, as the portal lists them. */
    fun portalCredentialIds(user: String): List<String> {
        val token = post("/v1/portal/sign-in", """{"username":"$user","password":"ibkey-demo"}""", null)
            .jsonString("portal_token")
        val body = request("GET", "/v1/portal/devices", null, token)
        return Regex("\"credential_id\"\\s*:\\s*\"([^\"]*)\"").findAll(body).map { it.groupValues[1] }.toList()
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
        dataDir.toFile().deleteRecursively()
    }

    private fun post(path: String, body: String, bearer: String?) = request("POST", path, body, bearer)

    private fun request(method: String, path: String, body: String?, bearer: String?): String {
        val connection = URI(url + path).toURL().openConnection() as HttpURLConnection
        try {
            connection.requestMethod = method
            bearer?.let { connection.setRequestProperty("authorization", "Bearer $it") }
            if (body != null) {
                connection.doOutput = true
                connection.setRequestProperty("content-type", "application/json")
                connection.outputStream.use { it.write(body.toByteArray()) }
            }
            val status = connection.responseCode
            val text = (if (status >= 400) connection.errorStream else connection.inputStream)
                ?.use { it.readBytes().decodeToString() }.orEmpty()
            check(status in 200..299) { "$method $path: HTTP $status $text" }
            return text
        } finally {
            connection.disconnect()
        }
    }

    private fun awaitHealthy() {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (System.nanoTime() < deadline) {
            check(process.isAlive) { "the server exited: ${dataDir.resolve("server.log").toFile().readText()}" }
            if (runCatching { request("GET", "/healthz", null, null) == "ok" }.getOrDefault(false)) return
            Thread.sleep(50)
        }
        close()
        error("the server at $url did not become healthy within 30 s")
    }

    companion object {
        fun start(): ReferenceServer {
            val cli = System.getProperty("ibkey.cli")
                ?: error("system property ibkey.cli (path of the ibkey CLI binary) is not set")
            check(File(cli).canExecute()) { "no ibkey CLI at $cli" }
            val port = ServerSocket(0).use { it.localPort }
            val dataDir = Files.createTempDirectory("ibkey-server-")
            val process = ProcessBuilder(cli, "server", "--listen", "127.0.0.1:$port", "--data-dir", dataDir.toString())
                .redirectErrorStream(true)
                .redirectOutput(dataDir.resolve("server.log").toFile())
                .start()
            return ReferenceServer("http://127.0.0.1:$port", process, dataDir).also { it.awaitHealthy() }
        }

        private fun String.jsonString(field: String): String =
            Regex("\"$field\"\\s*:\\s*\"([^\"]*)\"").find(this)?.groupValues?.get(1)
                ?: error("no string field $field in $this")
    }
}
