package io.ibkey.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.AtomicFile
import io.ibkey.core.SecureStore
import io.ibkey.core.StoreException
import java.io.File
import java.io.FileNotFoundException
import java.io.FileOutputStream
import java.io.IOException
import java.io.RandomAccessFile
import java.nio.channels.FileLock
import java.security.GeneralSecurityException
import java.security.KeyStore
import java.security.MessageDigest
import java.security.ProviderException
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.locks.ReentrantLock
import javax.crypto.AEADBadTagException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The core's [SecureStore] as files in app-private storage, each sealed with AES-256-GCM under
 * a key that never leaves the Android Keystore.
 *
 * One file an entry, named by the SHA-256 of the entry's name; its content is a version byte,
 * the 12-byte nonce and the ciphertext with its tag, and the entry's name is the associated
 * data, so a file moved to another name does not open. Writes go through [AtomicFile] (a new
 * file, fsync, rename), so a process killed at any moment leaves the old or the new value.
 * A file that does not open is reported as [StoreException.Corrupt] and left as it is.
 *
 * The store's generation lives in the Keystore, not in the files: it is the number in the alias
 * of a small key `<keyAlias>.generation.<n>`; raising it makes the key of the new number, then
 * deletes the older ones. Whoever can only write the app's files can neither lower it nor
 * remove it, which is what lets the core detect a deleted or rewound record.
 *
 * The store's lock is a lock shared by every instance on [directory] in this process plus a
 * [java.nio.channels.FileLock] on `.lock` in [directory], so the app's other processes take
 * turns too.
 *
 * [directory] defaults to `noBackupFilesDir/ibkey`: a backup restored on another phone could
 * not be opened without this phone's Keystore key.
 */
class KeystoreSecureStore(
    private val directory: File,
    private val keyAlias: String = "io.ibkey.store.v1",
) : SecureStore {

    constructor(context: Context) : this(File(context.noBackupFilesDir, "ibkey"))

    private val lock = Any()

    @Volatile
    private var cachedKey: SecretKey? = null

    /** The lock file's lock while this instance holds the store's lock. */
    @Volatile
    private var heldFileLock: FileLock? = null

    override fun load(key: String): ByteArray? = synchronized(lock) {
        val sealed = try {
            fileOf(key).readFully()
        } catch (e: FileNotFoundException) {
            return null
        } catch (e: IOException) {
            throw StoreException.Unreadable(describe(e))
        }
        open(key, sealed)
    }

    override fun save(key: String, value: ByteArray) = synchronized(lock) {
        val sealed = try {
            seal(key, value)
        } catch (e: GeneralSecurityException) {
            throw StoreException.WriteFailed(describe(e))
        } catch (e: ProviderException) {
            throw StoreException.WriteFailed(describe(e))
        }
        if (!directory.isDirectory && !directory.mkdirs()) {
            throw StoreException.WriteFailed("cannot create ${directory.path}")
        }
        val file = fileOf(key)
        var out: FileOutputStream? = null
        try {
            out = file.startWrite()
            out.write(sealed)
            file.finishWrite(out) // fsync, then rename over the old file
        } catch (e: IOException) {
            if (out != null) file.failWrite(out)
            throw StoreException.WriteFailed(describe(e))
        }
    }

    override fun remove(key: String) = synchronized(lock) {
        val file = fileOf(key)
        file.delete()
        if (file.baseFile.exists()) {
            throw StoreException.WriteFailed("cannot delete ${file.baseFile.path}")
        }
    }

    override fun generation(): ULong = try {
        generationAliases().maxOfOrNull { it.second }?.toULong() ?: 0uL
    } catch (e: GeneralSecurityException) {
        throw StoreException.Unreadable(describe(e))
    } catch (e: IOException) {
        throw StoreException.Unreadable(describe(e))
    }

    override fun raiseGeneration(generation: ULong) {
        val current = generation()
        if (generation < current) throw StoreException.WriteFailed("the store's generation cannot go down")
        if (generation == current) return
        try {
            // The new number first, then the old ones go: a crash in between leaves the
            // highest number standing, which is the one that counts.
            val spec = KeyGenParameterSpec.Builder("$keyAlias$GENERATION_INFIX$generation", KeyProperties.PURPOSE_ENCRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(128)
                .build()
            KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE).apply { init(spec) }.generateKey()
            val keyStore = keyStore()
            generationAliases().filter { it.second < generation.toLong() }.forEach { keyStore.deleteEntry(it.first) }
        } catch (e: GeneralSecurityException) {
            throw StoreException.WriteFailed(describe(e))
        } catch (e: ProviderException) {
            throw StoreException.WriteFailed(describe(e))
        } catch (e: IOException) {
            throw StoreException.WriteFailed(describe(e))
        }
    }

    override fun lock() {
        val shared = processLocks.computeIfAbsent(directory.absolutePath) { ReentrantLock() }
        shared.lock()
        try {
            if (!directory.isDirectory && !directory.mkdirs()) throw IOException("cannot create ${directory.path}")
            val channel = RandomAccessFile(File(directory, LOCK_FILE), "rw").channel
            heldFileLock = try {
                channel.lock()
            } catch (e: IOException) {
                channel.close()
                throw e
            }
        } catch (e: IOException) {
            shared.unlock()
            throw StoreException.Unreadable(describe(e))
        }
    }

    override fun unlock() {
        val held = heldFileLock
        heldFileLock = null
        try {
            held?.channel()?.close() // closing the channel releases its lock
        } finally {
            processLocks[directory.absolutePath]?.unlock()
        }
    }

    /** The generation keys in the Keystore: alias and number. */
    private fun generationAliases(): List<Pair<String, Long>> {
        val prefix = "$keyAlias$GENERATION_INFIX"
        return keyStore().aliases().toList()
            .filter { it.startsWith(prefix) }
            .mapNotNull { alias -> alias.removePrefix(prefix).toLongOrNull()?.let { alias to it } }
    }

    private fun keyStore(): KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

    private fun fileOf(key: String): AtomicFile {
        val digest = MessageDigest.getInstance("SHA-256").digest(key.toByteArray(Charsets.UTF_8))
        val name = digest.joinToString("") { "%02x".format(it) }
        return AtomicFile(File(directory, "$name.bin"))
    }

    private fun seal(key: String, value: ByteArray): ByteArray {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        // The Keystore picks a fresh random nonce for every encryption.
        cipher.init(Cipher.ENCRYPT_MODE, secretKey(createIfMissing = true))
        cipher.updateAAD(key.toByteArray(Charsets.UTF_8))
        val body = cipher.doFinal(value)
        val nonce = cipher.iv
        if (nonce.size != NONCE_BYTES) throw GeneralSecurityException("unexpected GCM nonce size ${nonce.size}")
        return byteArrayOf(FORMAT_VERSION) + nonce + body
    }

    private fun open(key: String, sealed: ByteArray): ByteArray {
        if (sealed.size < HEADER_BYTES + TAG_BITS / 8 || sealed[0] != FORMAT_VERSION) {
            throw StoreException.Corrupt(key)
        }
        try {
            // Without the Keystore key (app data restored, Keystore cleared) nothing opens.
            val secret = secretKey(createIfMissing = false) ?: throw StoreException.Corrupt(key)
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, secret, GCMParameterSpec(TAG_BITS, sealed, 1, NONCE_BYTES))
            cipher.updateAAD(key.toByteArray(Charsets.UTF_8))
            return cipher.doFinal(sealed, HEADER_BYTES, sealed.size - HEADER_BYTES)
        } catch (e: AEADBadTagException) {
            throw StoreException.Corrupt(key)
        } catch (e: GeneralSecurityException) {
            throw StoreException.Unreadable(describe(e))
        } catch (e: ProviderException) {
            throw StoreException.Unreadable(describe(e))
        }
    }

    private fun secretKey(createIfMissing: Boolean): SecretKey? {
        cachedKey?.let { return it }
        val keyStore = try {
            KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }
        } catch (e: IOException) {
            throw GeneralSecurityException("the Android Keystore cannot be opened", e)
        }
        val found = keyStore.getKey(keyAlias, null) as? SecretKey
        val key = found ?: if (createIfMissing) generateKey() else return null
        cachedKey = key
        return key
    }

    private fun generateKey(): SecretKey {
        val spec = KeyGenParameterSpec.Builder(
            keyAlias,
            KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT,
        )
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .build()
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        generator.init(spec)
        return generator.generateKey()
    }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val FORMAT_VERSION: Byte = 1
        const val NONCE_BYTES = 12
        const val HEADER_BYTES = 1 + NONCE_BYTES
        const val TAG_BITS = 128
        const val GENERATION_INFIX = ".generation."
        const val LOCK_FILE = ".lock"

        /** One lock per store directory, shared by every instance in this process. */
        val processLocks = ConcurrentHashMap<String, ReentrantLock>()

        fun describe(e: Exception): String = "${e.javaClass.simpleName}: ${e.message ?: "no detail"}"
    }
}
