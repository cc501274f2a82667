package io.ibkey.sample

import android.content.Intent
import android.graphics.Color
import android.graphics.Typeface
import android.os.Bundle
import android.provider.Settings
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.LoginNotifications
import io.ibkey.android.common.IbKey
import io.ibkey.core.CheckStatus
import io.ibkey.core.DoctorCheck
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel

/**
 * "Check notifications": the core's notification doctor over this phone's settings (notifications
 * allowed, the login channel, battery and background limits) and what the server knows of each
 * user (push token, login notifications on, the last notification delivered, the clock), each
 * check with its verdict and what to do; and a test notification, whose round trip the next
 * check reports.
 */
class NotificationsActivity : FragmentActivity() {

    private val ibkey: IbKey get() = (application as SampleApplication).ibkey
    private val notifications: LoginNotifications get() = (application as SampleApplication).loginNotifications

    private lateinit var checks: LinearLayout
    private lateinit var status: StatusLine
    private val screenScope = CoroutineScope(SupervisorJob() + Dispatchers.Main.immediate)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(dp(16), dp(16), dp(16), dp(16))
        }
        column.addView(TextView(this).apply {
            text = "Check notifications"
            setTypeface(typeface, Typeface.BOLD)
        })
        val statusView = TextView(this).apply { setPadding(0, dp(8), 0, dp(8)) }
        column.addView(statusView)
        status = StatusLine(statusView, screenScope)
        checks = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        column.addView(checks)
        column.addView(Button(this).apply {
            text = "Send a test notification"
            setOnClickListener { sendTest() }
        })
        column.addView(Button(this).apply {
            text = "Check again"
            setOnClickListener { check() }
        })
        column.addView(Button(this).apply {
            text = "Open notification settings"
            setOnClickListener {
                startActivity(
                    Intent(Settings.ACTION_APP_NOTIFICATION_SETTINGS).putExtra(Settings.EXTRA_APP_PACKAGE, packageName),
                )
            }
        })
        setContentView(ScrollView(this).apply { addView(column) })
    }

    override fun onResume() {
        super.onResume()
        check() // again after a visit to the settings
    }

    override fun onDestroy() {
        screenScope.cancel()
        super.onDestroy()
    }

    private fun check() = status.run("Checking") {
        val report = notifications.checkNotifications()
        checks.removeAllViews()
        report.checks.forEach { checks.addView(row(it)) }
        if (report.healthy) {
            "Nothing keeps login requests away."
        } else {
            "Something keeps login requests away: see the red items."
        }
    }

    private fun sendTest() = status.run("Asking the server for a test notification") {
        ibkey.sendTestNotification()
        "Sent. It should show within seconds; then press \"Check again\" to see how long it took."
    }

    private fun row(check: DoctorCheck) = TextView(this).apply {
        val mark = when (check.status) {
            CheckStatus.PASS -> "✓"
            CheckStatus.FAIL -> "✗"
            CheckStatus.UNKNOWN -> "?"
        }
        text = buildString {
            append("$mark ${check.title}\n${check.measured}")
            if (check.fix.isNotEmpty()) append("\n→ ${check.fix}")
        }
        setTextColor(if (check.status == CheckStatus.FAIL) Color.rgb(0xB0, 0x00, 0x20) else Color.DKGRAY)
        setPadding(0, dp(6), 0, dp(6))
    }
}
