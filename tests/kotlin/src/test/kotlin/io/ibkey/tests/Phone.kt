package io.ibkey.tests

import io.ibkey.android.common.HttpUrlConnectionTransport
import io.ibkey.android.common.IbKey
import io.ibkey.android.common.IbKeyDiagnostics
import io.ibkey.core.AuthenticatorConfig
import io.ibkey.core.BiometricOutcome
import io.ibkey.core.HttpTransport
import io.ibkey.core.LogLevel
import io.ibkey.core.PinEntry
import io.ibkey.core.PinPolicy
import io.ibkey.core.PinRequest
import io.ibkey.core.SecureStore
import io.ibkey.core.StoreException
import io.ibkey.core.UserVerifier
import io.ibkey.core.VerificationMethod
import io.ibkey.ffi.LogSink
import io.ibkey.ffi.softwareKeyVault
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.locks.ReentrantLock

/** A PIN that passes the core's rules. */
const val PIN = "4829"

/**
 * The phone's secure storage, in memory: the stand-in for Keystore-wrapped files or the
 * Keychain, with its generation (kept apart from the values, as a phone keeps it in hardware)
 * and its lock. [failWrites] makes every write throw, as a full or broken disk would.
 */
class InMemorySecureStore : SecureStore {
    private val values = ConcurrentHashMap<String, ByteArray>()
    private val generation = AtomicLong(0)
    private val storeLock = ReentrantLock()

    @Volatile
    var failWrites = false

    override fun load(key: String): ByteArray? = values[key]?.copyOf()

    override fun save(key: String, value: ByteArray) {
        if (failWrites) throw java.io.IOException("disk full")
        values[key] = value.copyOf()
    }

    override fun remove(key: String) {
        values.remove(key)
    }

    override fun generation(): ULong = generation.get().toULong()

    override fun raiseGeneration(generation: ULong) {
        val wanted = generation.toLong()
        this.generation.getAndUpdate { current ->
            if (wanted < current) throw StoreException.WriteFailed("the store's generation cannot go down")
            wanted
        }
    }

    override fun lock() = storeLock.lock()

    override fun unlock() = storeLock.unlock()

    /** The keys stored so far. */
    fun keys(): Set<String> = values.keys.toSet()
}

/**
 * The person at the PIN pad or biometric prompt, scripted: queued answers first, then the
 * standing PIN (or a cancel when there is none). Records every PIN request.
 */
class ScriptedVerifier(@Volatile var standingPin: String? = PIN) : UserVerifier {
    private val pins = ConcurrentLinkedQueue<PinEntry>()
    private val biometrics = ConcurrentLinkedQueue<BiometricOutcome>()

    /** Every PIN request seen so far, oldest first. */
    val pinRequests: MutableList<PinRequest> = CopyOnWriteArrayList()

    /** Queues PINs to type, in order. */
    fun type(vararg pins: String) = pins.forEach { this.pins += PinEntry.Entered(it.toByteArray()) }

    /** Queues outcomes of the biometric prompt, in order. */
    fun answerBiometric(vararg outcomes: BiometricOutcome) = outcomes.forEach { biometrics += it }

    override suspend fun requestPin(request: PinRequest): PinEntry {
        pinRequests += request
        return pins.poll() ?: standingPin?.let { PinEntry.Entered(it.toByteArray()) } ?: PinEntry.Cancelled
    }

    override suspend fun verifyBiometric(reason: String): BiometricOutcome =
        biometrics.poll() ?: BiometricOutcome.CANCELLED
}

/** Keeps every log line the core sends. */
class CollectingLogSink : LogSink {
    /** level, target, message. */
    val lines: MutableList<Triple<LogLevel, String, String>> = CopyOnWriteArrayList()

    override fun log(level: LogLevel, target: String, message: String) {
        lines += Triple(level, target, message)
    }
}

/**
 * A phone: the real core through the Kotlin bindings and the shell's [IbKey] facade, with real
 * HTTP ([HttpUrlConnectionTransport]) and real software keys; only storage and the person are
 * stand-ins. [serverKey] is the server's key the app ships with. [verifier] replaces the scripted [user] when a test needs another one; with
 * [diagnostics], its logs and network trace are recorded there.
 *
 * The device keys are kept in [keyStore], the app's [store] unless given: a store of its own
 * plays the Keystore or Keychain, which keeps its keys when the app's files are lost (a
 * reinstall), so a new [Phone] over the same [keyStore] is that phone after the reinstall.
 */
class Phone(
    serverUrl: String,
    serverKey: String?,
    val store: InMemorySecureStore = InMemorySecureStore(),
    val user: ScriptedVerifier = ScriptedVerifier(),
    keyStore: InMemorySecureStore = store,
    deviceName: String = "JVM test phone",
    method: VerificationMethod = VerificationMethod.PIN,
    http: HttpTransport = HttpUrlConnectionTransport(),
    verifier: UserVerifier = user,
    diagnostics: IbKeyDiagnostics? = null,
) : AutoCloseable {
    val ibkey = IbKey(
        config = AuthenticatorConfig(
            serverUrl = serverUrl,
            serverPublicKey = serverKey,
            deviceName = deviceName,
            verification = method,
            pinPolicy = PinPolicy(hashTargetMs = 5u),
        ),
        store = store,
        keys = softwareKeyVault(keyStore),
        verifier = verifier,
        http = http,
        diagnostics = diagnostics,
    )

    override fun close() = ibkey.close()
}
