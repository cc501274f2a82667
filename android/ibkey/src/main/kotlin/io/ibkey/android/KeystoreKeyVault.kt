package io.ibkey.android

import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.KeyProperties
import android.security.keystore.UserNotAuthenticatedException
import io.ibkey.core.KeyException
import io.ibkey.core.KeyVault
import io.ibkey.core.StoredKey
import java.io.IOException
import java.math.BigInteger
import java.security.GeneralSecurityException
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.ProviderException
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec

/**
 * How device keys are bound to the user's biometrics, for apps that verify with
 * `VerificationMethod.BIOMETRIC`.
 *
 * A key may be used for [validitySeconds] after the user passed the BiometricPrompt that
 * [BiometricUserVerifier] shows (the core signs right after it). With [allowDeviceCredential]
 * false, only a Class 3 biometric unlocks the key, and Android invalidates it when a biometric
 * is enrolled or all are removed (on Android 11+; before that, Android cannot bind a time-window
 * key to biometrics alone). With it true, the screen-lock PIN, pattern or password unlocks the
 * key too, and Android then never invalidates it on biometric changes.
 */
data class KeyAuthentication(
    val validitySeconds: Int = 15,
    val allowDeviceCredential: Boolean = false,
)

/**
 * The core's [KeyVault] over the Android Keystore: ECDSA P-256 keys that never leave secure
 * hardware, in StrongBox when the phone has one, else in the TEE.
 *
 * With [authentication] set, each key can be used only shortly after the user verified (see
 * [KeyAuthentication]); leave it null for `VerificationMethod.PIN`, where the core checks the
 * app PIN itself and Android has no part in it.
 *
 * Keys live under "[aliasPrefix]<alias>" in the app's Keystore, which [listKeys] lists (the
 * core looks there for keys that outlived the app's files). Errors map to
 * [KeyException]: no such key is [KeyException.NotFound], a key Android invalidated
 * (`KeyPermanentlyInvalidatedException`) is [KeyException.Invalidated], anything else
 * [KeyException.Failed].
 */
class KeystoreKeyVault(
    context: Context,
    private val authentication: KeyAuthentication? = null,
    private val aliasPrefix: String = "io.ibkey.device.",
) : KeyVault {

    private val hasStrongBox =
        context.packageManager.hasSystemFeature(PackageManager.FEATURE_STRONGBOX_KEYSTORE)

    override fun createKey(alias: String): ByteArray = keystoreCall {
        val name = aliasPrefix + alias
        val keyStore = androidKeyStore()
        if (keyStore.containsAlias(name)) {
            throw KeyException.Failed("a device key named $alias already exists")
        }
        val pair = if (hasStrongBox) {
            try {
                generate(name, strongBox = true)
            } catch (e: ProviderException) {
                // StrongBoxUnavailableException, or a StrongBox that refuses this key: the TEE
                // is the next best home for it.
                if (keyStore.containsAlias(name)) keyStore.deleteEntry(name)
                generate(name, strongBox = false)
            }
        } else {
            generate(name, strongBox = false)
        }
        sec1Uncompressed(pair.public as ECPublicKey)
    }

    override fun sign(alias: String, message: ByteArray): ByteArray = keystoreCall {
        val key = androidKeyStore().getKey(aliasPrefix + alias, null) as? PrivateKey
            ?: throw KeyException.NotFound()
        val signature = Signature.getInstance("SHA256withECDSA")
        signature.initSign(key)
        signature.update(message)
        // The Keystore's ECDSA signatures are ASN.1 DER, as the core expects.
        signature.sign()
    }

    override fun deleteKey(alias: String) = keystoreCall {
        val keyStore = androidKeyStore()
        val name = aliasPrefix + alias
        if (keyStore.containsAlias(name)) keyStore.deleteEntry(name)
    }

    /**
     * Every device key under [aliasPrefix], with its public key read from the certificate the
     * Keystore made for it. An entry without a certificate is not one of ours and is left out.
     */
    override fun listKeys(): List<StoredKey> = keystoreCall {
        val keyStore = androidKeyStore()
        keyStore.aliases().toList()
            .filter { it.startsWith(aliasPrefix) && keyStore.isKeyEntry(it) }
            .mapNotNull { name ->
                val public = keyStore.getCertificate(name)?.publicKey as? ECPublicKey ?: return@mapNotNull null
                StoredKey(alias = name.removePrefix(aliasPrefix), publicKey = sec1Uncompressed(public))
            }
    }

    private fun generate(name: String, strongBox: Boolean): KeyPair {
        val spec = KeyGenParameterSpec.Builder(name, KeyProperties.PURPOSE_SIGN)
            .setAlgorithmParameterSpec(ECGenParameterSpec("secp256r1"))
            .setDigests(KeyProperties.DIGEST_SHA256)
            .setIsStrongBoxBacked(strongBox)
            .apply { authentication?.let { requireUser(this, it) } }
            .build()
        val generator = KeyPairGenerator.getInstance(KeyProperties.KEY_ALGORITHM_EC, ANDROID_KEYSTORE)
        generator.initialize(spec)
        return generator.generateKeyPair()
    }

    private fun requireUser(builder: KeyGenParameterSpec.Builder, auth: KeyAuthentication) {
        builder.setUserAuthenticationRequired(true)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            val types = if (auth.allowDeviceCredential) {
                KeyProperties.AUTH_BIOMETRIC_STRONG or KeyProperties.AUTH_DEVICE_CREDENTIAL
            } else {
                KeyProperties.AUTH_BIOMETRIC_STRONG
            }
            builder.setUserAuthenticationParameters(auth.validitySeconds, types)
        } else {
            @Suppress("DEPRECATION")
            builder.setUserAuthenticationValidityDurationSeconds(auth.validitySeconds)
        }
        builder.setInvalidatedByBiometricEnrollment(true)
    }

    /** Runs [block], turning the Keystore's exceptions into [KeyException]s. */
    private inline fun <T> keystoreCall(block: () -> T): T = try {
        block()
    } catch (e: KeyException) {
        throw e
    } catch (e: KeyPermanentlyInvalidatedException) {
        throw KeyException.Invalidated()
    } catch (e: UserNotAuthenticatedException) {
        throw KeyException.Failed("the user has not confirmed with biometrics in the last few seconds")
    } catch (e: GeneralSecurityException) {
        throw KeyException.Failed(describe(e))
    } catch (e: ProviderException) {
        throw KeyException.Failed(describe(e))
    } catch (e: IOException) {
        throw KeyException.Failed(describe(e))
    } catch (e: IllegalStateException) {
        // Thrown when a key bound to user authentication is asked for on a phone without a
        // secure lock screen or enrolled biometrics.
        throw KeyException.Failed(describe(e))
    }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"

        fun androidKeyStore(): KeyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }

        fun describe(e: Exception): String = "${e.javaClass.simpleName}: ${e.message ?: "no detail"}"

        /** The public key as SEC1 uncompressed: 0x04, then X and Y as 32 bytes each. */
        fun sec1Uncompressed(key: ECPublicKey): ByteArray {
            if (key.params.curve.field.fieldSize != 256) {
                throw KeyException.Failed("the Keystore made a key on another curve")
            }
            val out = ByteArray(65)
            out[0] = 0x04
            key.w.affineX.copyFixed32(out, 1)
            key.w.affineY.copyFixed32(out, 33)
            return out
        }

        /** Writes this non-negative number big-endian into exactly 32 bytes of [out]. */
        fun BigInteger.copyFixed32(out: ByteArray, offset: Int) {
            val bytes = toByteArray() // two's complement: may carry a leading zero, or be short
            val start = bytes.indexOfFirst { it != 0.toByte() }.let { if (it < 0) bytes.size else it }
            val length = bytes.size - start
            if (signum() < 0 || length > 32) {
                throw KeyException.Failed("the Keystore returned a malformed public key")
            }
            bytes.copyInto(out, offset + 32 - length, start, bytes.size)
        }
    }
}
