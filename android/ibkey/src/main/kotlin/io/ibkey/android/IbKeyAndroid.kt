package io.ibkey.android

import android.app.Activity
import android.app.Application
import android.os.Build
import android.os.Bundle
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.common.HttpUrlConnectionTransport
import io.ibkey.android.common.IbKey
import io.ibkey.android.common.IbKeyDiagnostics
import io.ibkey.core.AppInfo
import io.ibkey.core.AuthenticatorConfig
import io.ibkey.core.DiagnosticsConfig
import io.ibkey.core.LogLevel
import io.ibkey.core.VerificationMethod
import java.io.File
import java.lang.ref.WeakReference

/**
 * Builds the app's [IbKey] over the Android adapters: [KeystoreSecureStore],
 * [KeystoreKeyVault], [BiometricUserVerifier] with the app's [PinPad],
 * [HttpUrlConnectionTransport], and its [IbKeyDiagnostics] (in `noBackupFilesDir`, bundles sent
 * to the same server) with logcat through [LogcatSink].
 *
 * With `VerificationMethod.BIOMETRIC` the device keys are bound to the user's biometrics
 * ([KeyAuthentication]); with `VerificationMethod.PIN` the core checks the app PIN and the keys
 * are not bound to the screen lock.
 */
object IbKeyAndroid {

    /** What an app may change; the defaults suit most. */
    data class Options(
        /** Where the store keeps its files; `noBackupFilesDir/ibkey` when null. */
        val storeDirectory: File? = null,
        /** Where diagnostics keep logs and the outbox; `noBackupFilesDir/ibkey-diagnostics` when null. */
        val diagnosticsDirectory: File? = null,
        /** Biometric method only: see [KeyAuthentication]. */
        val keyAuthentication: KeyAuthentication = KeyAuthentication(),
        /** The least severe core log line sent to logcat; null sends none. */
        val logLevel: LogLevel? = LogLevel.INFO,
        val promptTitle: String = "Confirm it's you",
        val promptCancelLabel: String = "Cancel",
    )

    /**
     * Makes the app's [IbKey]; call it once, from `Application.onCreate`, so that it sees every
     * activity come to the foreground. Throws `ActivationException.InsecureServer` for a plain
     * `http://` server that is not this device.
     */
    fun create(
        application: Application,
        config: AuthenticatorConfig,
        pinPad: PinPad,
        options: Options = Options(),
    ): IbKey {
        val diagnostics = IbKeyDiagnostics(
            DiagnosticsConfig(
                dir = (options.diagnosticsDirectory ?: File(application.noBackupFilesDir, "ibkey-diagnostics")).path,
                serverUrl = config.serverUrl,
                app = appInfo(application),
            ),
        )
        options.logLevel?.let { diagnostics.setLogSink(LogcatSink(), it) }
        val foreground = ForegroundActivity().also { application.registerActivityLifecycleCallbacks(it) }
        val biometric = config.verification == VerificationMethod.BIOMETRIC
        val store = KeystoreSecureStore(options.storeDirectory ?: File(application.noBackupFilesDir, "ibkey"))
        val keys = KeystoreKeyVault(application, if (biometric) options.keyAuthentication else null)
        val verifier = BiometricUserVerifier(
            context = application,
            foregroundActivity = foreground::current,
            pinPad = pinPad,
            allowDeviceCredential = options.keyAuthentication.allowDeviceCredential,
            promptTitle = options.promptTitle,
            cancelLabel = options.promptCancelLabel,
        )
        return IbKey(config, store, keys, verifier, HttpUrlConnectionTransport(), diagnostics)
    }

    /** The app and device as a diagnostics bundle's manifest names them. */
    fun appInfo(application: Application): AppInfo {
        val pm = application.packageManager
        val version = runCatching { pm.getPackageInfo(application.packageName, 0).versionName }.getOrNull()
        return AppInfo(
            appName = application.applicationInfo.loadLabel(pm).toString(),
            appVersion = version.orEmpty(),
            platform = "android",
            osVersion = "Android ${Build.VERSION.RELEASE} (API ${Build.VERSION.SDK_INT})",
            deviceModel = deviceName(),
        )
    }

    /** A device name the user recognises in the portal, such as "Google Pixel 8". */
    fun deviceName(): String {
        val model = Build.MODEL.orEmpty()
        val maker = Build.MANUFACTURER.orEmpty()
        return if (model.startsWith(maker, ignoreCase = true)) model else "$maker $model".trim()
    }

    /**
     * The FragmentActivity last resumed and not yet stopped, if any: where prompts and the PIN
     * pad are shown. (Paused is not enough to forget it: it is still visible then.)
     */
    private class ForegroundActivity : Application.ActivityLifecycleCallbacks {
        @Volatile
        private var visible: WeakReference<FragmentActivity>? = null

        fun current(): FragmentActivity? = visible?.get()

        override fun onActivityResumed(activity: Activity) {
            if (activity is FragmentActivity) visible = WeakReference(activity)
        }

        override fun onActivityStopped(activity: Activity) {
            if (visible?.get() === activity) visible = null
        }

        override fun onActivityCreated(activity: Activity, savedInstanceState: Bundle?) = Unit
        override fun onActivityStarted(activity: Activity) = Unit
        override fun onActivityPaused(activity: Activity) = Unit
        override fun onActivitySaveInstanceState(activity: Activity, outState: Bundle) = Unit
        override fun onActivityDestroyed(activity: Activity) = Unit
    }
}
