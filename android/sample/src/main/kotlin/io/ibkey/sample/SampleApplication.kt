package io.ibkey.sample

import android.app.Application
import io.ibkey.android.IbKeyAndroid
import io.ibkey.android.LoginNotifications
import io.ibkey.android.common.IbKey
import io.ibkey.core.AuthenticatorConfig
import io.ibkey.core.VerificationMethod

/**
 * Holds the app's one [IbKey], made at start-up so it sees every activity, and its
 * [LoginNotifications] (which a `FirebaseMessagingService` subclass of
 * `io.ibkey.android.IbKeyMessagingService` hands its messages to, once the app has Firebase).
 */
class SampleApplication : Application() {

    lateinit var ibkey: IbKey
        private set

    lateinit var loginNotifications: LoginNotifications
        private set

    override fun onCreate() {
        super.onCreate()
        val config = AuthenticatorConfig(
            serverUrl = SERVER_URL,
            // A released app ships its server's key here (serverPublicKey, from the server's
            // server-key.pub). The sample talks to whichever reference server runs on the
            // development computer, so it trusts that server's key at first contact instead:
            // development only.
            trustOnFirstUse = true,
            deviceName = IbKeyAndroid.deviceName(),
            // Android style: an app PIN, kept by the core. BIOMETRIC would use BiometricPrompt.
            verification = VerificationMethod.PIN,
        )
        ibkey = IbKeyAndroid.create(this, config, PinPadDialog)
        loginNotifications = LoginNotifications(this, ibkey, ApprovalActivity::class.java)
        loginNotifications.createChannel()
    }

    companion object {
        /**
         * The reference server on the development computer, reached from the phone or emulator
         * through `adb reverse tcp:8780 tcp:8780` (plain HTTP is allowed only to loopback).
         */
        const val SERVER_URL = "http://127.0.0.1:8780"
    }
}
