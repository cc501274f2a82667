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
import java.security.GeneralSecurityException
import java.security.KeyStore
import java.security.MessageDigest
import java.security.ProviderException
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
 * [directory] defaults to `noBackupFilesDir/ibkey`: a backup restored on another phone could
 * not be opened without this phone's Keystore key. Use one instance per directory.
 */
class KeystoreSecureStore(
    private val directory: File,
    private val keyAlias: String = "io.ibkey.store.v1",
) : SecureStore {

    constructor(context: Context) : this(File(context.noBackupFilesDir, "ibkey"))

    private val lock = Any()

    @Volatile
    private var cachedKey: SecretKey? = null

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

        fun describe(e: Exception): String = "${e.javaClass.simpleName}: ${e.message ?: "no detail"}"
    }
}
