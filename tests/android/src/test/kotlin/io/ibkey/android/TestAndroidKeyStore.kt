package io.ibkey.android

import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyPermanentlyInvalidatedException
import android.security.keystore.StrongBoxUnavailableException
import android.security.keystore.UserNotAuthenticatedException
import java.io.InputStream
import java.io.OutputStream
import java.security.InvalidAlgorithmParameterException
import java.security.Key
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.KeyPairGeneratorSpi
import java.security.KeyStoreSpi
import java.security.PrivateKey
import java.security.Provider
import java.security.PublicKey
import java.security.SecureRandom
import java.security.Security
import java.security.Signature
import java.security.SignatureSpi
import java.security.cert.Certificate
import java.security.interfaces.ECKey
import java.security.interfaces.ECPrivateKey
import java.security.spec.AlgorithmParameterSpec
import java.security.spec.ECParameterSpec
import java.util.Collections
import java.util.Date
import java.util.Enumeration
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CopyOnWriteArrayList
import javax.crypto.KeyGenerator
import javax.crypto.KeyGeneratorSpi
import javax.crypto.SecretKey

/**
 * A software stand-in for the "AndroidKeyStore" JCA provider, registered under that name, so the
 * adapters run their own code unchanged: `KeyStore.getInstance("AndroidKeyStore")`,
 * `KeyGenerator`/`KeyPairGenerator` initialised with a [KeyGenParameterSpec], and ECDSA signing
 * with a private key that, as on a phone, does not reveal its scalar (so only this provider's
 * `Signature` takes it).
 *
 * Like the Keystore it refuses a StrongBox key when the "phone" has none
 * ([StrongBoxUnavailableException]), and it can play a key invalidated by a biometric change
 * ([KeyPermanentlyInvalidatedException]) or one whose user-authentication window has passed
 * ([UserNotAuthenticatedException]). The keys are plain software keys in memory.
 */
object TestAndroidKeyStore {
    const val NAME = "AndroidKeyStore"

    /** The keys, by alias, as the Keystore holds them. */
    val entries = ConcurrentHashMap<String, Key>()

    /** The certificate the Keystore keeps with each key pair, by alias: it carries the public key. */
    val certificates = ConcurrentHashMap<String, Certificate>()

    /** Every key-generation spec the adapters asked for, in order. */
    val specs = CopyOnWriteArrayList<KeyGenParameterSpec>()

    /** Whether this "phone" has a StrongBox. */
    @Volatile
    var strongBox = false

    /** Aliases of keys Android invalidated (a biometric was enrolled). */
    val invalidated: MutableSet<String> = ConcurrentHashMap.newKeySet()

    /** Aliases of keys whose user-authentication window is over. */
    val authenticationExpired: MutableSet<String> = ConcurrentHashMap.newKeySet()

    fun install() {
        uninstall()
        entries.clear()
        certificates.clear()
        specs.clear()
        invalidated.clear()
        authenticationExpired.clear()
        strongBox = false
        Security.addProvider(KeystoreProvider())
    }

    fun uninstall() {
        Security.removeProvider(NAME)
    }

    /** A private key in the Keystore: usable for signing through this provider only. */
    class KeystorePrivateKey(val alias: String, val software: ECPrivateKey) : PrivateKey, ECKey {
        override fun getAlgorithm() = "EC"
        override fun getFormat(): String? = null
        override fun getEncoded(): ByteArray? = null
        override fun getParams(): ECParameterSpec = software.params
    }

    /**
     * The Keystore's self-signed certificate of a key pair, reduced to what a caller reads from
     * it: its public key (the real one is an X.509 certificate the Keystore signs itself).
     */
    class KeyPairCertificate(private val key: PublicKey) : Certificate("X.509") {
        override fun getPublicKey(): PublicKey = key
        override fun getEncoded(): ByteArray = key.encoded
        override fun verify(key: PublicKey?) = throw UnsupportedOperationException()
        override fun verify(key: PublicKey?, sigProvider: String?) = throw UnsupportedOperationException()
        override fun toString() = "certificate of ${key.algorithm} key"
    }

    private class KeystoreProvider : Provider(NAME, "1.0", "software stand-in for the Android Keystore") {
        init {
            putService(KeystoreService(this, "KeyStore", NAME) { KeystoreSpi() })
            putService(KeystoreService(this, "KeyGenerator", "AES") { AesGenerator() })
            putService(KeystoreService(this, "KeyPairGenerator", "EC") { EcGenerator() })
            putService(object : KeystoreService(this, "Signature", "SHA256withECDSA", { EcdsaSignature() }) {
                override fun supportsParameter(parameter: Any?) = parameter is KeystorePrivateKey
            })
        }
    }

    private open class KeystoreService(provider: Provider, type: String, algorithm: String, private val make: () -> Any) :
        Provider.Service(provider, type, algorithm, "${TestAndroidKeyStore::class.java.name}.$type", null, null) {
        override fun newInstance(constructorParameter: Any?): Any = make()
    }

    private class KeystoreSpi : KeyStoreSpi() {
        override fun engineLoad(stream: InputStream?, password: CharArray?) = Unit
        override fun engineGetKey(alias: String, password: CharArray?): Key? = entries[alias]
        override fun engineContainsAlias(alias: String) = entries.containsKey(alias)
        override fun engineDeleteEntry(alias: String) {
            entries.remove(alias)
            certificates.remove(alias)
        }
        override fun engineAliases(): Enumeration<String> = Collections.enumeration(entries.keys.toList())
        override fun engineSize() = entries.size
        override fun engineIsKeyEntry(alias: String) = entries.containsKey(alias)
        override fun engineIsCertificateEntry(alias: String) = false
        override fun engineGetCertificateChain(alias: String): Array<Certificate>? =
            certificates[alias]?.let { arrayOf(it) }
        override fun engineGetCertificate(alias: String): Certificate? = certificates[alias]
        override fun engineGetCertificateAlias(cert: Certificate): String? = null
        override fun engineGetCreationDate(alias: String): Date? = null
        override fun engineSetKeyEntry(alias: String, key: Key, password: CharArray?, chain: Array<out Certificate>?) =
            throw UnsupportedOperationException("keys are made by the Keystore's generators")
        override fun engineSetKeyEntry(alias: String, key: ByteArray, chain: Array<out Certificate>?) =
            throw UnsupportedOperationException("keys are made by the Keystore's generators")
        override fun engineSetCertificateEntry(alias: String, cert: Certificate) = throw UnsupportedOperationException()
        override fun engineStore(stream: OutputStream?, password: CharArray?) = throw UnsupportedOperationException()
    }

    private class AesGenerator : KeyGeneratorSpi() {
        private var spec: KeyGenParameterSpec? = null

        override fun engineInit(params: AlgorithmParameterSpec?, random: SecureRandom?) {
            spec = params as? KeyGenParameterSpec
                ?: throw InvalidAlgorithmParameterException("the Keystore needs a KeyGenParameterSpec")
            specs += spec
        }
        override fun engineInit(random: SecureRandom?) = throw InvalidAlgorithmParameterException("no spec")
        override fun engineInit(keysize: Int, random: SecureRandom?) = throw InvalidAlgorithmParameterException("no spec")

        override fun engineGenerateKey(): SecretKey {
            val spec = checkNotNull(spec) { "not initialised" }
            val key = KeyGenerator.getInstance("AES").apply { init(spec.keySize) }.generateKey()
            entries[spec.keystoreAlias] = key
            return key
        }
    }

    private class EcGenerator : KeyPairGeneratorSpi() {
        private var spec: KeyGenParameterSpec? = null

        override fun initialize(params: AlgorithmParameterSpec?, random: SecureRandom?) {
            spec = params as? KeyGenParameterSpec
                ?: throw InvalidAlgorithmParameterException("the Keystore needs a KeyGenParameterSpec")
            specs += spec
        }
        override fun initialize(keysize: Int, random: SecureRandom?) = throw InvalidAlgorithmParameterException("no spec")

        override fun generateKeyPair(): KeyPair {
            val spec = checkNotNull(spec) { "not initialised" }
            if (spec.isStrongBoxBacked && !strongBox) throw StrongBoxUnavailableException()
            val software = KeyPairGenerator.getInstance("EC").apply { initialize(spec.algorithmParameterSpec) }
                .generateKeyPair()
            val private = KeystorePrivateKey(spec.keystoreAlias, software.private as ECPrivateKey)
            entries[spec.keystoreAlias] = private
            certificates[spec.keystoreAlias] = KeyPairCertificate(software.public)
            return KeyPair(software.public, private)
        }
    }

    private class EcdsaSignature : SignatureSpi() {
        private var signer: Signature? = null

        override fun engineInitSign(privateKey: PrivateKey) {
            val key = privateKey as KeystorePrivateKey
            if (key.alias in invalidated) throw KeyPermanentlyInvalidatedException()
            if (key.alias in authenticationExpired) throw UserNotAuthenticatedException()
            signer = Signature.getInstance("SHA256withECDSA").apply { initSign(key.software) }
        }
        override fun engineUpdate(b: Byte) = checkNotNull(signer).update(b)
        override fun engineUpdate(b: ByteArray, off: Int, len: Int) = checkNotNull(signer).update(b, off, len)
        override fun engineSign(): ByteArray = checkNotNull(signer).sign()
        override fun engineInitVerify(publicKey: java.security.PublicKey) = throw UnsupportedOperationException()
        override fun engineVerify(sigBytes: ByteArray) = throw UnsupportedOperationException()
        @Deprecated("JCA")
        override fun engineSetParameter(param: String?, value: Any?) = throw UnsupportedOperationException()
        @Deprecated("JCA")
        override fun engineGetParameter(param: String?): Any = throw UnsupportedOperationException()
    }
}
