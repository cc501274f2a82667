package io.ibkey.tests

import io.ibkey.android.common.HttpUrlConnectionTransport
import io.ibkey.core.AppInfo
import io.ibkey.core.AuthenticatorConfig
import io.ibkey.core.BiometricOutcome
import io.ibkey.core.BundleRequest
import io.ibkey.core.ChallengeSource
import io.ibkey.core.DiagnosticsConfig
import io.ibkey.core.HttpHeader
import io.ibkey.core.HttpRequest
import io.ibkey.core.HttpResponse
import io.ibkey.core.HttpTransport
import io.ibkey.core.KeyVault
import io.ibkey.core.LogLevel
import io.ibkey.core.LoginChallenge
import io.ibkey.core.NotificationSettings
import io.ibkey.core.PinEntry
import io.ibkey.core.PinPolicy
import io.ibkey.core.PinRequest
import io.ibkey.core.Screenshot
import io.ibkey.core.SecureStore
import io.ibkey.core.StoredKey
import io.ibkey.core.UserVerifier
import io.ibkey.core.VerificationMethod
import io.ibkey.core.otpCode
import io.ibkey.ffi.Authenticator
import io.ibkey.ffi.Diagnostics
import io.ibkey.ffi.InternalException
import io.ibkey.ffi.LogSink
import io.ibkey.ffi.PreparedBundle
import io.ibkey.ffi.Scanner
import io.ibkey.ffi.Sleeper
import io.ibkey.ffi.UploadProgress
import io.ibkey.ffi.decodeQrImage
import io.ibkey.ffi.renderQrPngForTests
import io.ibkey.ffi.setPhoneClockSkewForTests
import io.ibkey.ffi.softwareKeyVault
import io.ibkey.ffi.triggerPanicForTests
import io.ibkey.protocol.LogMode
import io.ibkey.protocol.LoginContext
import io.ibkey.testsupport.PushInbox
import io.ibkey.testsupport.ReferenceServer
import java.io.File
import java.nio.ByteBuffer
import java.nio.charset.CharacterCodingException
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlin.test.fail
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.MethodOrderer
import org.junit.jupiter.api.Order
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.TestMethodOrder

/**
 * Panics never cross the FFI: every exported object, every method and every top-level function
 * of the bindings is fed hostile input (empty, huge and garbage text and bytes, extreme numbers,
 * frames whose sizes and strides lie, forged records), and runs over foreign services (store,
 * key vault, user verifier, HTTP, log sink, upload progress, sleeper) that throw unexpected
 * exceptions or return garbage. Each call must end in a normal result or one of the project's
 * typed exceptions: never an `InternalException` (uniffi's wrapping of a Rust panic, one class
 * in each generated package: [InternalException] in `io.ibkey.ffi`), never a
 * hang, never a crashed JVM. The last test fails when the bindings export something this class
 * has not probed, read from the generated classes by reflection.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation::class)
class PanicBoundaryTest {
    private lateinit var server: ReferenceServer
    private lateinit var pushes: PushInbox
    private lateinit var scratch: Path

    /** Names of the exported calls and foreign traits probed so far ("Object.method"). */
    private val probed: MutableSet<String> = ConcurrentHashMap.newKeySet()
    private val calls = AtomicInteger()
    private val refusedByBindings = AtomicInteger()
    private val failures: MutableList<String> = java.util.Collections.synchronizedList(mutableListOf())
    private val random = Random(17)

    @BeforeAll
    fun start() {
        pushes = PushInbox()
        server = ReferenceServer.start(pushWebhook = pushes.url)
        scratch = Files.createTempDirectory("ibkey-panic-")
    }

    @AfterAll
    fun stop() {
        setPhoneClockSkewForTests(0)
        server.close()
        pushes.close()
        scratch.toFile().deleteRecursively()
    }

    /**
     * Runs one hostile call and checks how it ended: a result, or an exception of the project
     * (`io.ibkey.*`) that is not a Rust panic. A string that is not valid UTF-16 (a lone
     * surrogate) is refused by the generated bindings before it reaches Rust
     * ([CharacterCodingException]): that counts as refused too. Anything else is noted in
     * [failures], so one run lists every bad call. Gives the result when there is one.
     */
    private fun <T> probe(name: String, block: suspend () -> T): T? {
        probed += name
        calls.incrementAndGet()
        val outcome = runCatching { runBlocking { withTimeout(CALL_TIMEOUT_MS) { block() } } }
        val e = outcome.exceptionOrNull() ?: return outcome.getOrNull()
        when {
            // Each generated file (ffi, core, protocol) has its own InternalException.
            e.javaClass.simpleName == "InternalException" ->
                failures += "$name: a Rust panic crossed the FFI (${e.javaClass.name}): ${e.message?.take(300)}"
            e is CharacterCodingException -> refusedByBindings.incrementAndGet()
            !e.javaClass.name.startsWith("io.ibkey.") -> failures += "$name: ended in ${e.toString().take(300)}, not a typed ibkey error"
        }
        return null
    }

    /** Fails the test with every bad ending seen since the last check. */
    private fun assertNoBadEndings() {
        val seen = failures.toList().distinct()
        failures.clear()
        assertEquals(emptyList(), seen, "calls that did not end in a result or a typed ibkey error")
    }

    /** A phone over the reference server with the given foreign services. */
    private fun phone(
        store: SecureStore = InMemorySecureStore(),
        keys: KeyVault = softwareKeyVault(InMemorySecureStore()),
        verifier: UserVerifier = ScriptedVerifier(),
        http: HttpTransport = HttpUrlConnectionTransport(),
        config: AuthenticatorConfig = config(),
    ): Authenticator = probe("Authenticator.<init>") {
        Authenticator(config, store, keys, verifier, http, null)
    } ?: fail("a valid configuration must give an authenticator")

    private fun config(url: String = server.url, key: String? = server.publicKey) = AuthenticatorConfig(
        serverUrl = url,
        serverPublicKey = key,
        deviceName = "panic probe",
        verification = VerificationMethod.PIN,
        pinPolicy = PinPolicy(hashTargetMs = 5u),
    )

    private fun forged(username: String, choices: ByteArray = byteArrayOf(1, 2, 3)) = LoginChallenge(
        challengeId = "forged-" + "x".repeat(40),
        username = username,
        serverUrl = server.url,
        context = LoginContext("app", "::1", "nowhere", "curl", Long.MIN_VALUE),
        expiresAt = Long.MAX_VALUE,
        secondsLeft = -1,
        numberChoices = choices,
        source = ChallengeSource.PUSH,
        token = "eyJ" + "A".repeat(200),
    )

    /**
     * Calls every method of [auth] once with plausible arguments: the sweep that reaches deep
     * code over hostile foreign services. [user] is a username that may be enrolled.
     */
    private fun sweep(auth: Authenticator, user: String) {
        val ticket = server.ticket(user)
        probe("Authenticator.checkSessionId") { auth.checkSessionId(ticket.sessionId) }
        probe("Authenticator.inspectQr") { auth.inspectQr(ticket.qrPayload) }
        probe("Authenticator.activateWithSessionId") { auth.activateWithSessionId(ticket.sessionId) }
        probe("Authenticator.activateFromQr") { auth.activateFromQr(ticket.qrPayload) }
        probe("Authenticator.accounts") { auth.accounts() }
        probe("Authenticator.account") { auth.account(user) }
        probe("Authenticator.hasPin") { auth.hasPin() }
        probe("Authenticator.pinLockout") { auth.pinLockout() }
        probe("Authenticator.clockOffsetSecs") { auth.clockOffsetSecs() }
        probe("Authenticator.takeMoveNotices") { auth.takeMoveNotices() }
        probe("Authenticator.registerPushToken") { auth.registerPushToken("fcm", "token-1") }
        probe("Authenticator.sendTestNotification") { auth.sendTestNotification() }
        probe("Authenticator.notificationDoctor") { auth.notificationDoctor(settings("android"), "token-1") }
        // The server's side of a login: refused for a user with no device, which is fine here.
        val login = runCatching { server.startLogin(user) }.getOrNull()
        val pending = probe("Authenticator.pendingLogins") { auth.pendingLogins() }.orEmpty()
        val challenge = pending.firstOrNull() ?: forged(user)
        val number = challenge.numberChoices.firstOrNull()?.toUByte() ?: 0u
        probe("Authenticator.checkNumber") { auth.checkNumber(challenge, number) }
        probe("Authenticator.approve") { auth.approve(challenge, null) }
        probe("Authenticator.deny") { auth.deny(challenge, true) }
        val offline = login?.let { runCatching { server.offlineChallenge(it) }.getOrNull() } ?: "12345678"
        probe("Authenticator.respond") { auth.respond(user, offline) }
        probe("Authenticator.timeCode") { auth.timeCode(user) }
        probe("Authenticator.findRecoverableAccounts") { auth.findRecoverableAccounts() }
        probe("Authenticator.recoverAccount") { auth.recoverAccount(user, "123456") }
        probe("Authenticator.removeAccount") { auth.removeAccount(user) }
        probe("Authenticator.reset") { auth.reset() }
    }

    private fun settings(platform: String) = NotificationSettings(platform, null, false, true, null, true, false)

    @Test
    @Order(1)
    fun `the scanner and image decoding take any frame and any bytes`() {
        val scanner = probe("Scanner.<init>") { Scanner() } ?: fail("a scanner")
        scanner.use {
            for ((w, h, stride, size) in FRAMES) {
                val luma = ByteBuffer.allocateDirect(size)
                repeat(size) { luma.put(it, random.nextInt().toByte()) }
                probe("Scanner.scanFrame") { scanner.scanFrame(w, h, stride, luma) }
            }
            // A buffer whose position is not 0: the bytes from the position on are the frame.
            val shifted = ByteBuffer.allocateDirect(64 * 64 + 10).position(10)
            probe("Scanner.scanFrame") { scanner.scanFrame(64u, 64u, 64u, shifted) }

            val png = probe("renderQrPngForTests") { renderQrPngForTests("not an activation code", 4u) }
                ?: fail("a PNG of a QR code")
            for (scale in listOf(0u, 1u, UInt.MAX_VALUE)) {
                probe("renderQrPngForTests") { renderQrPngForTests("x", scale) }
            }
            for (text in HOSTILE_TEXT) probe("renderQrPngForTests") { renderQrPngForTests(text, 1u) }
            val images = HOSTILE_BYTES + listOf(png) + (1 until png.size step 97).map { png.copyOf(it) } +
                listOf(png.flipped(40), png.flipped(png.size / 2), pngClaiming(1 shl 30, 1 shl 30), pngClaiming(0, 0))
            for (image in images) {
                probe("Scanner.scanImage") { scanner.scanImage(image) }
                probe("decodeQrImage") { decodeQrImage(image) }
            }
            probe("Scanner.reset") { scanner.reset() }
        }
        for (uri in HOSTILE_TEXT + OTPAUTH + OTPAUTH.flatMap { mutations(it) }) {
            for (time in listOf(Long.MIN_VALUE, -1L, 0L, 1_700_000_000L, Long.MAX_VALUE)) {
                probe("otpCode") { otpCode(uri, time) }
            }
        }
        assertNoBadEndings()
    }

    @Test
    @Order(2)
    fun `every Authenticator method refuses hostile text, bytes, numbers and forged records`() {
        phone().use { auth ->
            val enrolled = "pb-alice"
            assertTrue(probe("Authenticator.activateWithSessionId") {
                auth.activateWithSessionId(server.ticket(enrolled).sessionId)
            } != null, "the probe phone activates normally")
            val realQr = server.ticket("pb-bob").qrPayload
            val qrs = HOSTILE_TEXT + mutations(realQr)
            for (text in qrs) {
                probe("Authenticator.checkSessionId") { auth.checkSessionId(text) }
                probe("Authenticator.inspectQr") { auth.inspectQr(text) }
                probe("Authenticator.activateFromQr") { auth.activateFromQr(text) }
                probe("Authenticator.readLoginQr") { auth.readLoginQr(text) }
            }
            for (text in HOSTILE_TEXT + mutations(server.ticket("pb-carol").sessionId)) {
                probe("Authenticator.activateWithSessionId") { auth.activateWithSessionId(text) }
                probe("Authenticator.account") { auth.account(text) }
                probe("Authenticator.removeAccount") { auth.removeAccount(text) }
                probe("Authenticator.respond") { auth.respond(enrolled, text) }
                probe("Authenticator.respond") { auth.respond(text, "12345678") }
                probe("Authenticator.timeCode") { auth.timeCode(text) }
                probe("Authenticator.recoverAccount") { auth.recoverAccount(text, text) }
                probe("Authenticator.registerPushToken") { auth.registerPushToken(text, text) }
                probe("Authenticator.notificationDoctor") { auth.notificationDoctor(settings(text), text) }
            }

            // Notifications: hostile bytes, and a real signed challenge cut and flipped.
            server.startLogin(enrolled)
            val push = pushes.next(enrolled)
            val signed = push["challenge"] ?: fail("a login push carries its challenge: $push")
            val payloads = HOSTILE_BYTES + PUSH_JSON.map { it.toByteArray() } +
                mutations(signed).map { it.toByteArray() } +
                mutations(signed).map { """{"type":"login","challenge":"$it"}""".toByteArray() }
            for (bytes in payloads) {
                probe("Authenticator.readPush") { auth.readPush(bytes) }
                probe("Authenticator.readNotification") { auth.readNotification(bytes) }
            }

            // Records the app could build itself: forged and tampered challenges, odd numbers.
            val real = probe("Authenticator.readPush") { auth.readPush(signed.toByteArray()) }
                ?: fail("the untouched challenge reads")
            val challenges = listOf(
                forged(enrolled), forged("nobody"), forged(enrolled, ByteArray(0)), forged(enrolled, ByteArray(255) { it.toByte() }),
                real.copy(challengeId = ""), real.copy(challengeId = "x".repeat(1 shl 16)), real.copy(username = "pb-bob"),
                real.copy(serverUrl = "http://192.0.2.1/"), real.copy(expiresAt = Long.MIN_VALUE), real.copy(secondsLeft = Long.MAX_VALUE),
                real.copy(numberChoices = ByteArray(0)), real.copy(context = forged(enrolled).context),
                real.copy(source = ChallengeSource.QR_CODE), real.copy(token = ""), real.copy(token = "x".repeat(1 shl 20)),
            ) + mutations(real.token).map { real.copy(token = it) }
            for (challenge in challenges) {
                for (number in listOf<UByte>(0u, 1u, 99u, 255u)) {
                    probe("Authenticator.checkNumber") { auth.checkNumber(challenge, number) }
                }
                probe("Authenticator.approve") { auth.approve(challenge, 255u) }
                probe("Authenticator.approve") { auth.approve(challenge, null) }
                probe("Authenticator.deny") { auth.deny(challenge, false) }
            }
            sweep(auth, enrolled)
        }
        // Configurations a careless app could pass.
        val configs = HOSTILE_TEXT.map { config(url = it) } + HOSTILE_TEXT.map { config(key = it) } + listOf(
            config(url = "http://192.0.2.1/"), config(url = "ftp://127.0.0.1/"),
            config().copy(deviceName = ""), config().copy(deviceName = "d".repeat(1 shl 20)),
            config().copy(pinPolicy = PinPolicy(0u, 0u, 0u, 0u)), config().copy(pinPolicy = PinPolicy(5u, 1u, 12u, 4u)),
            config().copy(trustOnFirstUse = true, serverPublicKey = null),
        )
        for (config in configs) {
            val auth = probe("Authenticator.<init>") {
                Authenticator(config, InMemorySecureStore(), softwareKeyVault(InMemorySecureStore()), ScriptedVerifier(), HttpUrlConnectionTransport(), null)
            } ?: continue
            auth.use {
                probe("Authenticator.hasPin") { it.hasPin() }
                val sessionId = server.ticket("pb-cfg").sessionId
                probe("Authenticator.checkSessionId") { it.checkSessionId(sessionId) }
                probe("Authenticator.activateWithSessionId") { it.activateWithSessionId(sessionId) }
                probe("Authenticator.removeAccount") { it.removeAccount("pb-cfg") }
            }
        }
        assertNoBadEndings()
    }

    @Test
    @Order(3)
    fun `foreign services that throw or return garbage give typed errors`() {
        probed += "foreign:SecureStore"
        probed += "foreign:KeyVault"
        probed += "foreign:UserVerifier"
        probed += "foreign:HttpTransport"
        for ((i, fault) in StoreFault.entries.withIndex()) {
            // Hostile from the start, and hostile only after a user was enrolled.
            phone(store = HostileStore(fault, armed = true)).use { sweep(it, "pb-store$i") }
            val store = HostileStore(fault, armed = false)
            val keys = softwareKeyVault(InMemorySecureStore())
            phone(store = store, keys = keys).use { enrol(it, "pb-stored$i") }
            store.armed = true
            phone(store = store, keys = keys).use { sweep(it, "pb-stored$i") }
        }
        for ((i, fault) in KeyFault.entries.withIndex()) {
            phone(keys = HostileVault(fault, armed = true)).use { sweep(it, "pb-keys$i") }
            val store = InMemorySecureStore()
            val keys = HostileVault(fault, armed = false)
            phone(store = store, keys = keys).use { enrol(it, "pb-keyed$i") }
            keys.armed = true
            phone(store = store, keys = keys).use { sweep(it, "pb-keyed$i") }
        }
        for ((i, verifier) in hostileVerifiers().withIndex()) {
            phone(verifier = verifier).use { sweep(it, "pb-verifier$i") }
            val store = InMemorySecureStore()
            val keys = softwareKeyVault(InMemorySecureStore())
            phone(store = store, keys = keys).use { enrol(it, "pb-verified$i") }
            phone(store = store, keys = keys, verifier = verifier).use { sweep(it, "pb-verified$i") }
        }
        for ((i, mode) in Corruption.entries.withIndex()) {
            // Enrol over the real transport, then let the corrupting one answer everything.
            val store = InMemorySecureStore()
            val keyStore = InMemorySecureStore()
            val user = "pb-http$i"
            phone(store = store, keys = softwareKeyVault(keyStore)).use { enrol(it, user) }
            phone(store = store, keys = softwareKeyVault(keyStore), http = CorruptingTransport(mode)).use { sweep(it, user) }
        }
        // The core's own software vault over stores that throw or hold garbage.
        for (fault in StoreFault.entries + listOf<StoreFault?>(null)) {
            val store = HostileStore(fault ?: StoreFault.GARBAGE, armed = false)
            val vault = probe("softwareKeyVault") { softwareKeyVault(store) } ?: continue
            probe("KeyVault.createKey") { vault.createKey("made-before") }
            store.armed = fault != null
            probe("KeyVault.sign") { vault.sign("made-before", ByteArray(32)) }
            for (alias in HOSTILE_TEXT) {
                probe("KeyVault.createKey") { vault.createKey(alias) }
                probe("KeyVault.sign") { vault.sign(alias, ByteArray(1 shl 20)) }
                probe("KeyVault.sign") { vault.sign(alias, ByteArray(0)) }
                probe("KeyVault.deleteKey") { vault.deleteKey(alias) }
            }
            probe("KeyVault.listKeys") { vault.listKeys() }
        }
        assertNoBadEndings()
    }

    @Test
    @Order(4)
    fun `diagnostics take hostile folders, requests, sinks, transports and sleepers`() {
        probed += "foreign:LogSink"
        probed += "foreign:UploadProgress"
        probed += "foreign:Sleeper"
        val app = AppInfo("panic", "1.0", "jvm", "", "")
        val file = Files.createTempFile(scratch, "not-a-dir", ".txt").toString()
        val badConfigs = HOSTILE_TEXT.take(6).map { DiagnosticsConfig(it, server.url, app) } + listOf(
            DiagnosticsConfig(file, server.url, app),
            DiagnosticsConfig("$file/below", server.url, app),
            DiagnosticsConfig(scratch.resolve("a").toString(), "http://192.0.2.1/", app),
            DiagnosticsConfig(scratch.resolve("b").toString(), "", app),
            DiagnosticsConfig(scratch.resolve("c").toString(), server.url, AppInfo("", "", "", "", "x".repeat(1 shl 20))),
            DiagnosticsConfig(scratch.resolve("d").toString(), server.url, app, 0u, 0uL, 0uL, 0u, 0uL),
            DiagnosticsConfig(scratch.resolve("e").toString(), server.url, app, UInt.MAX_VALUE, ULong.MAX_VALUE, ULong.MAX_VALUE, UInt.MAX_VALUE, ULong.MAX_VALUE),
        )
        for (config in badConfigs) {
            probe("Diagnostics.<init>") { Diagnostics(config, HttpUrlConnectionTransport(), ThrowingSleeper) }?.close()
        }

        for ((i, mode) in (Corruption.entries + null).withIndex()) {
            val http = mode?.let { CorruptingTransport(it) } ?: HttpUrlConnectionTransport()
            val config = DiagnosticsConfig(scratch.resolve("diag$i").toString(), server.url, app, maxBundleBytes = 1uL shl 20)
            val diagnostics = probe("Diagnostics.<init>") { Diagnostics(config, http, ThrowingSleeper) }
                ?: fail("diagnostics over a fresh folder open")
            diagnostics.use { d ->
                probe("Diagnostics.setLogSink") { d.setLogSink(ThrowingSink, LogLevel.TRACE) }
                for (mode2 in LogMode.entries) probe("Diagnostics.setLogMode") { d.setLogMode(mode2) }
                probe("Diagnostics.logMode") { d.logMode() }
                // Log lines through the throwing sink, with a hostile phone's traffic recorded.
                Authenticator(config(), InMemorySecureStore(), softwareKeyVault(InMemorySecureStore()), ScriptedVerifier(), http, d).use {
                    probed += "Authenticator.<init>"
                    val sessionId = server.ticket("pb-diag$i").sessionId
                    probe("Authenticator.activateWithSessionId") { it.activateWithSessionId(sessionId) }
                }
                for (max in listOf(0u, 1u, UInt.MAX_VALUE)) probe("Diagnostics.recentLines") { d.recentLines(max) }
                val requests = listOf(
                    BundleRequest("", null, listOf(), 0u, false),
                    BundleRequest("c".repeat(1 shl 20), "\u0000", listOf(), UInt.MAX_VALUE, true),
                    BundleRequest("shot", "pb-diag$i", listOf(Screenshot("", ByteArray(0)), Screenshot("../../escape.png", HOSTILE_BYTES[2])), 1u, true),
                    BundleRequest("big", null, listOf(Screenshot("big.png", ByteArray(6 shl 20))), 1u, false),
                    BundleRequest("many", null, List(50) { Screenshot("s$it.png", ByteArray(10)) }, 1u, false),
                )
                for (request in requests) {
                    val bundle: PreparedBundle = probe("Diagnostics.prepareBundle") { d.prepareBundle(request) } ?: continue
                    bundle.use { b ->
                        probe("PreparedBundle.preview") { b.preview() }
                        probe("PreparedBundle.bytes") { b.bytes() }
                        probe("Diagnostics.send") { d.send(b, ThrowingProgress) }
                        probe("Diagnostics.send") { d.send(b, null) }
                    }
                }
                probe("Diagnostics.flushOutbox") { d.flushOutbox(ThrowingProgress) }
                probe("Diagnostics.outbox") { d.outbox() }
                for (id in HOSTILE_TEXT + listOf("../../../etc/passwd", "/", ".")) {
                    probe("Diagnostics.removeFromOutbox") { d.removeFromOutbox(id) }
                }
                probe("Diagnostics.sentHistory") { d.sentHistory() }
                probe("Diagnostics.setLogSink") { d.setLogSink(null, LogLevel.ERROR) }
            }
        }
        assertNoBadEndings()
    }

    @Test
    @Order(5)
    fun `a phone clock at the ends of time gives typed errors`() {
        phone().use { auth ->
            val user = "pb-clock"
            val sessionId = server.ticket(user).sessionId
            probe("Authenticator.activateWithSessionId") { auth.activateWithSessionId(sessionId) }
            try {
                for (skew in listOf(Long.MAX_VALUE, Long.MIN_VALUE, 1L shl 40, -(1L shl 40))) {
                    probe("setPhoneClockSkewForTests") { setPhoneClockSkewForTests(skew) }
                    sweep(auth, user)
                }
            } finally {
                setPhoneClockSkewForTests(0)
            }
        }
        assertNoBadEndings()
    }

    @Test
    @Order(6)
    fun `a call cancelled while the core waits on the shell leaves the authenticator working`() {
        val verifier = HangingVerifier()
        val http = HangingTransport()
        phone(verifier = verifier, http = http).use { auth ->
            val user = "pb-cancel"
            // The app leaves the PIN pad: its coroutine is cancelled while the core waits.
            val first = server.ticket(user).sessionId
            assertIs<TimeoutCancellationException>(cancelledAfter(500) { auth.activateWithSessionId(first) })
            verifier.hang = false
            val second = server.ticket(user).sessionId
            assertTrue(probe("Authenticator.activateWithSessionId") { auth.activateWithSessionId(second) } != null,
                "after a cancelled activation the next one works: nothing was left locked")
            assertEquals(listOf(user), auth.accounts().map { it.username })

            // The network hangs and the app gives up on the calls that were waiting for it.
            val login = server.startLogin(user)
            val challenge = probe("Authenticator.pendingLogins") { auth.pendingLogins() }.orEmpty().single()
            http.hang = true
            assertIs<TimeoutCancellationException>(cancelledAfter(500) { auth.approve(challenge, login.number.toUByte()) })
            assertIs<TimeoutCancellationException>(cancelledAfter(500) { auth.pendingLogins() })
            assertIs<TimeoutCancellationException>(cancelledAfter(500) { auth.removeAccount(user) })
            http.hang = false
            assertTrue(probe("Authenticator.pendingLogins") { auth.pendingLogins() } != null, "the phone works again")
            assertEquals(listOf(user), auth.accounts().map { it.username }, "a cancelled removal removed nothing")
            assertTrue(probe("Authenticator.removeAccount") { auth.removeAccount(user) } != null, "and can remove the user")
        }
        assertNoBadEndings()
    }

    /** How [block] ended when cancelled after [millis]: its exception, or null when it finished in time. */
    private fun cancelledAfter(millis: Long, block: suspend () -> Any?): Throwable? =
        runCatching { runBlocking { withTimeout(millis) { block() } } }.exceptionOrNull()

    /** The PIN pad that, while [hang], never answers (the user walked away). */
    private class HangingVerifier : UserVerifier {
        @Volatile
        var hang = true
        private val answers = ScriptedVerifier()

        override suspend fun requestPin(request: PinRequest): PinEntry {
            if (hang) awaitCancellation()
            return answers.requestPin(request)
        }

        override suspend fun verifyBiometric(reason: String): BiometricOutcome = BiometricOutcome.CANCELLED
    }

    /** The real transport that, while [hang], never answers (a dead network). */
    private class HangingTransport : HttpTransport {
        @Volatile
        var hang = false
        private val real = HttpUrlConnectionTransport()

        override suspend fun send(request: HttpRequest): HttpResponse {
            if (hang) awaitCancellation()
            return real.send(request)
        }
    }

    @Test
    @Order(Int.MAX_VALUE)
    fun `every exported object, method, function and foreign trait was probed`() {
        // The probe itself must see a panic: the one export that panics on purpose.
        probed += "triggerPanicForTests"
        val panic = runCatching { triggerPanicForTests("panic probe") }.exceptionOrNull()
        assertTrue(panic is InternalException, "a deliberate panic reads as InternalException, got $panic")

        val objects = mutableSetOf<String>()
        val exported = exportedApi(objects)
        val missing = exported - probed
        val unknown = probed - exported
        println("PANIC_BOUNDARY objects=${objects.size} " +
            "methods=${exported.count { "." in it && !it.endsWith(".<init>") }} " +
            "functions=${exported.count { "." !in it && ":" !in it }} " +
            "foreign_traits=${exported.count { it.startsWith("foreign:") }} calls=${calls.get()} " +
            "refused_by_bindings=${refusedByBindings.get()}")
        assertEquals(emptySet(), missing, "exported but never fed hostile input: add them to PanicBoundaryTest")
        assertEquals(emptySet(), unknown, "probed but no longer exported: remove them from PanicBoundaryTest")
    }

    /**
     * The exported API, read from the generated bindings by reflection: each object (a class
     * `X` with its interface `XInterface`) as `X.method`, and `X.<init>` when it has an exported
     * constructor; each foreign trait (an interface `X` with its class `XImpl`) as `foreign:X`,
     * plus the Rust methods of the traits Rust also implements (`KeyVault`); each top-level
     * function. The objects' names go into [objects].
     */
    private fun exportedApi(objects: MutableSet<String>): Set<String> {
        val root = File(Authenticator::class.java.protectionDomain.codeSource.location.toURI())
        val loader = Authenticator::class.java.classLoader
        val api = mutableSetOf<String>()
        for (pkg in listOf("io/ibkey/ffi", "io/ibkey/core", "io/ibkey/protocol")) {
            val classes = root.resolve(pkg).listFiles().orEmpty()
                .filter { it.name.endsWith(".class") && '$' !in it.name }
                .map { Class.forName(pkg.replace('/', '.') + "." + it.name.removeSuffix(".class"), false, loader) }
            val names = classes.map { it.simpleName }.toSet()
            for (c in classes) {
                val name = c.simpleName
                when {
                    c.isInterface && name.endsWith("Interface") && name.removeSuffix("Interface") in names -> {
                        val obj = name.removeSuffix("Interface")
                        objects += obj
                        // uniffi's own constructors take a handle or `NoHandle`; any other is exported.
                        val constructors = Class.forName("${c.packageName}.$obj", false, loader).constructors
                        if (constructors.any { ctor -> ctor.parameterTypes.none { it.simpleName in UNIFFI_HANDLES } }) {
                            api += "$obj.<init>"
                        }
                        c.declaredMethods.mapNotNull { kotlinName(it) }.forEach { api += "$obj.$it" }
                    }
                    c.isInterface && "${name}Impl" in names -> {
                        api += "foreign:$name"
                        // A trait Rust implements too: its methods are callable on Rust's object.
                        if (name in RUST_IMPLEMENTED_TRAITS) c.declaredMethods.mapNotNull { kotlinName(it) }.forEach { api += "$name.$it" }
                    }
                    name.endsWith("Kt") -> c.declaredMethods
                        .filter { java.lang.reflect.Modifier.isPublic(it.modifiers) && it.parameterTypes.none { p -> p.simpleName == "Disposable" } }
                        .mapNotNull { kotlinName(it) }
                        .filterNot { it.startsWith("uniffi") || it.startsWith("getUniffi") }
                        .forEach { api += it }
                }
            }
        }
        return api
    }

    /**
     * The Kotlin name of a compiled method: without the suffix Kotlin adds for unsigned
     * parameters (`scanFrame-qeJuyTQ`); none for the synthetic `$default` bridges.
     */
    private fun kotlinName(method: java.lang.reflect.Method): String? =
        method.name.takeUnless { '$' in it || method.isSynthetic }?.substringBefore('-')

    /** Activates [user] on [auth], which must work: the start of a sweep that goes deeper. */
    private fun enrol(auth: Authenticator, user: String) {
        val sessionId = server.ticket(user).sessionId
        assertTrue(probe("Authenticator.activateWithSessionId") { auth.activateWithSessionId(sessionId) } != null,
            "$user activates while the services still behave")
    }

    /** How a [HostileStore] misbehaves once armed. */
    enum class StoreFault { READ_WRITE_THROW, LOCK_THROWS, UNLOCK_THROWS, GENERATION_MAX, GENERATION_THROWS, GARBAGE, EMPTY, HUGE }

    /** A store in memory that, once [armed], throws from a call or gives back garbage. */
    private inner class HostileStore(private val fault: StoreFault, @Volatile var armed: Boolean) : SecureStore {
        private val inner = InMemorySecureStore()

        override fun load(key: String): ByteArray? {
            val value = inner.load(key)
            if (!armed) return value
            return when (fault) {
                StoreFault.READ_WRITE_THROW -> throw IllegalStateException("keystore gone")
                StoreFault.GARBAGE -> value?.let { garbage(it.size) }
                StoreFault.EMPTY -> value?.let { ByteArray(0) }
                StoreFault.HUGE -> value?.let { ByteArray(4 shl 20) { '['.code.toByte() } }
                else -> value
            }
        }

        override fun save(key: String, value: ByteArray) {
            if (armed && fault == StoreFault.READ_WRITE_THROW) throw UnsupportedOperationException("read-only")
            inner.save(key, value)
        }

        override fun remove(key: String) = inner.remove(key)

        override fun generation(): ULong = when {
            armed && fault == StoreFault.GENERATION_MAX -> ULong.MAX_VALUE
            armed && fault == StoreFault.GENERATION_THROWS -> throw NullPointerException("no generation")
            else -> inner.generation()
        }

        override fun raiseGeneration(generation: ULong) {
            if (armed && fault == StoreFault.GENERATION_MAX) throw ArithmeticException("overflow")
            inner.raiseGeneration(generation)
        }

        override fun lock() {
            if (armed && fault == StoreFault.LOCK_THROWS) throw RuntimeException("no lock for you")
            inner.lock()
        }

        override fun unlock() {
            inner.unlock()
            if (armed && fault == StoreFault.UNLOCK_THROWS) throw RuntimeException("unlock failed")
        }
    }

    /** How a [HostileVault] misbehaves once armed. */
    enum class KeyFault { THROWS, EMPTY_KEY, GARBAGE_KEY, GARBAGE_SIGNATURE, HUGE_SIGNATURE, GARBAGE_LIST }

    /** The core's software vault that, once [armed], throws or gives wrong-sized keys and signatures. */
    private inner class HostileVault(private val fault: KeyFault, @Volatile var armed: Boolean) : KeyVault {
        private val real = softwareKeyVault(InMemorySecureStore())

        override fun createKey(alias: String): ByteArray = if (!armed) real.createKey(alias) else when (fault) {
            KeyFault.THROWS -> throw IllegalStateException("StrongBox unavailable")
            KeyFault.EMPTY_KEY -> ByteArray(0)
            KeyFault.GARBAGE_KEY -> garbage(65)
            else -> real.createKey(alias)
        }

        override fun sign(alias: String, message: ByteArray): ByteArray = if (!armed) real.sign(alias, message) else when (fault) {
            KeyFault.THROWS -> throw SecurityException("user not authenticated")
            KeyFault.GARBAGE_SIGNATURE -> garbage(72)
            KeyFault.HUGE_SIGNATURE -> ByteArray(1 shl 20)
            else -> real.sign(alias, message)
        }

        override fun deleteKey(alias: String) {
            if (armed && fault == KeyFault.THROWS) throw IllegalStateException("cannot delete")
            real.deleteKey(alias)
        }

        override fun listKeys(): List<StoredKey> = if (!armed) real.listKeys() else when (fault) {
            KeyFault.THROWS -> throw IllegalStateException("keystore gone")
            KeyFault.GARBAGE_LIST -> real.listKeys().map { it.copy(publicKey = garbage(65)) } +
                listOf(StoredKey("", ByteArray(0)), StoredKey("x".repeat(1 shl 16), garbage(65)))
            KeyFault.EMPTY_KEY -> real.listKeys().map { it.copy(publicKey = ByteArray(0)) }
            else -> real.listKeys()
        }
    }

    /** The person at the PIN pad, hostile: odd PINs, exceptions. */
    private fun hostileVerifiers(): List<UserVerifier> = listOf(
        answering(PinEntry.Entered(ByteArray(0))),
        answering(PinEntry.Entered(ByteArray(1 shl 20) { '4'.code.toByte() })),
        answering(PinEntry.Entered(byteArrayOf(0xff.toByte(), 0xfe.toByte(), 0xc0.toByte(), 0x80.toByte()))),
        answering(PinEntry.Entered("٤٨٢٩".toByteArray())),
        object : UserVerifier {
            override suspend fun requestPin(request: PinRequest): PinEntry = throw IllegalArgumentException("no activity")
            override suspend fun verifyBiometric(reason: String): BiometricOutcome = throw Error("no activity")
        },
    )

    private fun answering(entry: PinEntry) = object : UserVerifier {
        override suspend fun requestPin(request: PinRequest): PinEntry = entry
        override suspend fun verifyBiometric(reason: String): BiometricOutcome = BiometricOutcome.FAILED
    }

    private fun garbage(size: Int) = ByteArray(size).also { random.nextBytes(it) }

    /** How [CorruptingTransport] spoils the real server's replies. */
    enum class Corruption { THROW, STATUS_ZERO, EMPTY_OK, GARBAGE_OK, TRUNCATED, FLIPPED, WRONG_JSON, HUGE, ERROR_AS_OK }

    /** The real HTTP transport, with each reply spoiled as [mode] says: a hostile server. */
    private inner class CorruptingTransport(private val mode: Corruption) : HttpTransport {
        private val real = HttpUrlConnectionTransport()

        override suspend fun send(request: HttpRequest): HttpResponse {
            if (mode == Corruption.THROW) throw IllegalStateException("socket closed")
            val reply = real.send(request)
            val json = listOf(HttpHeader("content-type", "application/json"))
            return when (mode) {
                Corruption.THROW -> reply
                Corruption.STATUS_ZERO -> reply.copy(status = 0u)
                Corruption.EMPTY_OK -> HttpResponse(200u, listOf(), ByteArray(0))
                Corruption.GARBAGE_OK -> HttpResponse(200u, json, garbage(512))
                Corruption.TRUNCATED -> reply.copy(body = reply.body.copyOf(reply.body.size / 2))
                Corruption.FLIPPED -> reply.copy(body = reply.body.flipped(reply.body.size / 3))
                Corruption.WRONG_JSON -> HttpResponse(reply.status, json, WRONG_JSON.toByteArray())
                Corruption.HUGE -> HttpResponse(200u, json + List(1000) { HttpHeader("x-$it", "v".repeat(100)) },
                    ("{\"a\":\"" + "x".repeat(8 shl 20) + "\"}").toByteArray())
                Corruption.ERROR_AS_OK -> HttpResponse(if (reply.status.toInt() >= 400) 200u else 503u, reply.headers, reply.body)
            }
        }
    }

    private object ThrowingSink : LogSink {
        override fun log(level: LogLevel, target: String, message: String) = throw IllegalStateException("logcat gone")
    }

    private object ThrowingProgress : UploadProgress {
        override fun onProgress(bundleId: String, sentBytes: ULong, totalBytes: ULong) = throw RuntimeException("view detached")
    }

    private object ThrowingSleeper : Sleeper {
        override suspend fun sleep(millis: ULong) = throw IllegalStateException("scope cancelled")
    }

    /** A camera frame's claimed width, height and row stride, and its buffer's real size. */
    data class Frame(val width: UInt, val height: UInt, val rowStride: UInt, val size: Int)

    private companion object {
        const val CALL_TIMEOUT_MS = 60_000L

        /** The parameter types of the constructors uniffi adds to every object. */
        val UNIFFI_HANDLES = setOf("UniffiWithHandle", "NoHandle")

        /** Traits with a Rust implementation handed to the shell (`softwareKeyVault`). */
        val RUST_IMPLEMENTED_TRAITS = setOf("KeyVault")

        /** width, height, row stride, buffer size: frames whose sizes and strides lie. */
        val FRAMES: List<Frame> = listOf(
            frame(0u, 0u, 0u, 0), frame(1u, 1u, 1u, 0), frame(1u, 1u, 0u, 1),
            frame(640u, 480u, 640u, 640 * 480 - 1), frame(640u, 480u, 320u, 640 * 480),
            frame(640u, 480u, 704u, 479 * 704 + 640), frame(640u, 480u, 704u, 479 * 704 + 639),
            frame(UInt.MAX_VALUE, UInt.MAX_VALUE, UInt.MAX_VALUE, 4096), frame(65536u, 65536u, 65536u, 4096),
            frame(1u, UInt.MAX_VALUE, 1u, 1024), frame(UInt.MAX_VALUE, 1u, UInt.MAX_VALUE, 1024),
            frame(100_000u, 1u, 100_000u, 100_000), frame(1u, 100_000u, 1u, 100_000), frame(4u, 4u, 4u, 16),
            frame(2u, 2u, UInt.MAX_VALUE, 16), frame(1920u, 1080u, 1920u, 1920 * 1080),
        )

        private fun frame(w: UInt, h: UInt, stride: UInt, size: Int) = Frame(w, h, stride, size)

        val HOSTILE_TEXT = listOf(
            "", " ", "\u0000", "\uFFFD\uD800", "\n\r\t", "-----", "AAAA-BBBB-CCCC-DDDD", "a".repeat(1 shl 20),
            "💥".repeat(4096), "[".repeat(100_000), "%s%n%x", "9".repeat(400), "../../etc/passwd",
            "ibkey://activate?%ZZ", "otpauth://totp/?secret=", "{\"a\":", "http://127.0.0.1:1/", "-1",
        )

        val HOSTILE_BYTES: List<ByteArray> = listOf(
            ByteArray(0), ByteArray(1 shl 20), Random(3).nextBytes(4096),
            byteArrayOf(0xff.toByte(), 0xfe.toByte(), 0xc0.toByte(), 0x80.toByte()),
            "\u0089PNG\r\n\u001a\n".toByteArray(Charsets.ISO_8859_1), byteArrayOf(0xff.toByte(), 0xd8.toByte(), 0xff.toByte()),
            "[".repeat(100_000).toByteArray(),
        )

        val PUSH_JSON = listOf(
            "{}", "null", "[]", "\"login\"", """{"type":"login"}""", """{"type":"login","challenge":""}""",
            """{"type":"login","challenge":5}""", """{"type":"login","challenge":"${"A".repeat(100_000)}"}""",
            """{"type":"test","id":"x","sent_at_ms":"-99999999999999999999"}""",
            """{"type":"test","id":"x","sent_at_ms":"9223372036854775807"}""",
            """{"type":"test","id":"x","sent_at_ms":"-9223372036854775808"}""",
            """{"type":"test","id":"","sent_at_ms":""}""", """{"type":"${"t".repeat(1 shl 16)}"}""",
        )

        val OTPAUTH = listOf(
            "otpauth://totp/Bank:alice?secret=JBSWY3DPEHPK3PXP&issuer=Bank",
            "otpauth://hotp/Bank:alice?secret=JBSWY3DPEHPK3PXP&counter=18446744073709551615",
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0&digits=99&algorithm=SHA512",
            "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=4294967296&digits=0",
            "otpauth://totp/%E2%82?secret=%ZZ&period=-30",
        )

        const val WRONG_JSON = """{"error":{"code":5},"challenges":"no","session":[],"expires_at":-1e308,
            "number_choices":[999,-1],"server_time_ms":1e400,"reference":null,"accounts":{"x":1}}"""

        /** Cuts and flips of a valid text: near misses reach the deepest checks. */
        fun mutations(valid: String): List<String> {
            val cuts = (0 until valid.length step maxOf(1, valid.length / 12)).map { valid.take(it) }
            val flips = listOf(1, valid.length / 3, valid.length / 2, valid.length - 1).filter { it in valid.indices }.flatMap { i ->
                listOf('A', '0', '-', '%', '\u0000').map { valid.substring(0, i) + it + valid.substring(i + 1) }
            }
            return cuts + flips + listOf(valid + valid, valid.lowercase(), valid.uppercase(), valid + "\u0000")
        }

        fun ByteArray.flipped(at: Int): ByteArray = copyOf().also { if (it.isNotEmpty()) it[at.coerceIn(it.indices)] = (it[at.coerceIn(it.indices)].toInt() xor 0x5a).toByte() }

        /** A PNG header claiming `width` × `height` pixels, with no pixels: a decompression bomb's shape. */
        fun pngClaiming(width: Int, height: Int): ByteArray {
            val ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height).put(8).put(0).put(0).put(0).put(0).array()
            val crc = java.util.zip.CRC32().apply { update("IHDR".toByteArray()); update(ihdr) }.value.toInt()
            return ByteBuffer.allocate(8 + 25).put("\u0089PNG\r\n\u001a\n".toByteArray(Charsets.ISO_8859_1))
                .putInt(13).put("IHDR".toByteArray()).put(ihdr).putInt(crc).array()
        }
    }
}
