package io.ibkey.android

import android.content.Context
import io.ibkey.core.StoreException
import java.io.File
import java.security.MessageDigest
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import javax.crypto.SecretKey
import kotlin.concurrent.thread
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.After
import org.junit.Before
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment

/**
 * [KeystoreSecureStore] over the software "AndroidKeyStore": what the core keeps (PIN record,
 * accounts) survives, stays sealed on disk, and a damaged or foreign file is reported, never
 * overwritten or read as something else.
 */
@RunWith(RobolectricTestRunner::class)
class KeystoreSecureStoreTest {
    private val context: Context = RuntimeEnvironment.getApplication()
    private lateinit var dir: File

    @Before
    fun setUp() {
        TestAndroidKeyStore.install()
        dir = File(context.noBackupFilesDir, "ibkey")
    }

    @After
    fun tearDown() {
        TestAndroidKeyStore.uninstall()
        dir.deleteRecursively()
    }

    @Test
    fun `an entry saved is read back, by a new instance too, and is sealed on disk`() {
        val secret = "alice's PIN record".toByteArray()
        KeystoreSecureStore(context).save("gate/pin", secret)

        assertContentEquals(secret, KeystoreSecureStore(context).load("gate/pin"))
        val files = dir.listFiles().orEmpty()
        assertEquals(listOf(sha256Hex("gate/pin") + ".bin"), files.map { it.name })
        val onDisk = files.single().readBytes()
        assertFalse(onDisk.decodeToString(throwOnInvalidSequence = false).contains("alice"))
        // Version byte, 12-byte nonce, ciphertext, 16-byte tag.
        assertEquals(1 + 12 + secret.size + 16, onDisk.size)
        // AES-256 under a Keystore key asked for GCM without padding.
        val spec = TestAndroidKeyStore.specs.single()
        assertEquals("io.ibkey.store.v1", spec.keystoreAlias)
        assertEquals(256, spec.keySize)
        assertContentEquals(arrayOf("GCM"), spec.blockModes)
        assertEquals(256, (TestAndroidKeyStore.entries["io.ibkey.store.v1"] as SecretKey).encoded.size * 8)
    }

    @Test
    fun `the generation lives in the Keystore, only goes up, and survives the files being wiped`() {
        val store = KeystoreSecureStore(context)
        assertEquals(0uL, store.generation())
        store.raiseGeneration(3uL)
        store.raiseGeneration(5uL)
        assertEquals(5uL, KeystoreSecureStore(context).generation())
        // One Keystore entry holds it; the older numbers are gone.
        assertEquals(
            listOf("io.ibkey.store.v1.generation.5"),
            TestAndroidKeyStore.entries.keys.filter { ".generation." in it },
        )
        assertFailsWith<StoreException.WriteFailed> { store.raiseGeneration(4uL) }
        assertEquals(5uL, store.generation())
        // Wiping the app's files does not reset it.
        dir.deleteRecursively()
        assertEquals(5uL, KeystoreSecureStore(context).generation())
    }

    @Test
    fun `two instances on one directory take turns at the store's lock`() {
        val first = KeystoreSecureStore(context)
        val second = KeystoreSecureStore(context)
        first.lock()
        val acquired = CountDownLatch(1)
        val other = thread {
            second.lock()
            acquired.countDown()
            second.unlock()
        }
        assertFalse(acquired.await(200, TimeUnit.MILLISECONDS), "the lock was taken twice")
        first.unlock()
        assertTrue(acquired.await(10, TimeUnit.SECONDS), "the lock was never released")
        other.join()
    }

    @Test
    fun `a missing entry is null, an overwrite keeps the new value, a removed entry is gone`() {
        val store = KeystoreSecureStore(context)
        assertNull(store.load("accounts"))
        store.save("accounts", byteArrayOf(1))
        store.save("accounts", byteArrayOf(2, 2))
        assertContentEquals(byteArrayOf(2, 2), store.load("accounts"))
        store.remove("accounts")
        assertNull(store.load("accounts"))
        assertTrue(dir.listFiles().orEmpty().isEmpty(), "no file left behind: ${dir.list()?.toList()}")
        store.remove("accounts") // removing twice is fine
    }

    @Test
    fun `each encryption uses a fresh nonce`() {
        val store = KeystoreSecureStore(context)
        store.save("a", byteArrayOf(7))
        val first = fileOf("a").readBytes()
        store.save("a", byteArrayOf(7))
        val second = fileOf("a").readBytes()
        assertFalse(first.copyOfRange(1, 13).contentEquals(second.copyOfRange(1, 13)))
    }

    @Test
    fun `a tampered file is Corrupt and left untouched`() {
        val store = KeystoreSecureStore(context)
        store.save("accounts", "alice,bob".toByteArray())
        val file = fileOf("accounts")
        val damaged = file.readBytes().also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }
        file.writeBytes(damaged)

        val e = assertFailsWith<StoreException.Corrupt> { store.load("accounts") }
        assertEquals("STORE_CORRUPT", e.code())
        assertContentEquals(damaged, file.readBytes())
    }

    @Test
    fun `a file copied under another entry's name does not open`() {
        val store = KeystoreSecureStore(context)
        store.save("gate/pin", "pin record".toByteArray())
        store.save("gate/attempts", "0".toByteArray())
        // An attacker (or a bug) puts an old attempt counter in place of the PIN record.
        fileOf("gate/attempts").copyTo(fileOf("gate/pin"), overwrite = true)

        assertFailsWith<StoreException.Corrupt> { store.load("gate/pin") }
    }

    @Test
    fun `without the Keystore key (data restored on another phone) nothing opens and nothing is overwritten`() {
        KeystoreSecureStore(context).save("accounts", "alice".toByteArray())
        val before = fileOf("accounts").readBytes()
        TestAndroidKeyStore.entries.clear()

        assertFailsWith<StoreException.Corrupt> { KeystoreSecureStore(context).load("accounts") }
        assertContentEquals(before, fileOf("accounts").readBytes())
    }

    @Test
    fun `a short or unknown-format file is Corrupt`() {
        val store = KeystoreSecureStore(context)
        store.save("x", byteArrayOf(1, 2, 3))
        fileOf("x").writeBytes(byteArrayOf(1, 2, 3))
        assertFailsWith<StoreException.Corrupt> { store.load("x") }
        fileOf("x").writeBytes(ByteArray(64) { 2 })
        assertFailsWith<StoreException.Corrupt> { store.load("x") }
    }

    @Test
    fun `a folder that cannot be made is WriteFailed`() {
        val blocked = File(context.noBackupFilesDir, "blocked").apply { writeText("a file, not a folder") }
        try {
            val e = assertFailsWith<StoreException.WriteFailed> { KeystoreSecureStore(blocked).save("x", byteArrayOf(1)) }
            assertEquals("STORE_WRITE_FAILED", e.code())
        } finally {
            blocked.delete()
        }
    }

    private fun fileOf(key: String) = File(dir, sha256Hex(key) + ".bin")

    private fun sha256Hex(key: String) =
        MessageDigest.getInstance("SHA-256").digest(key.toByteArray()).joinToString("") { "%02x".format(it) }
}
