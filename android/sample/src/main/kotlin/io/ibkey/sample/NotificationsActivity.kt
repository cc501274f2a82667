package io.ibkey.sample

import android.content.Intent
import android.graphics.Color
import android.os.Bundle
import android.provider.Settings
import android.widget.LinearLayout
import android.widget.TextView
import io.ibkey.core.CheckStatus
import io.ibkey.core.DoctorCheck

/**
 * "Check notifications": the core's notification doctor over this phone's settings (notifications
 * allowed, the login channel, battery and background limits) and what the server knows of each
 * user (push token, login notifications on, the last notification delivered, the clock), each
 * check with its verdict and what to do; and a test notification, whose round trip the next
 * check reports.
 */
class NotificationsActivity : SampleScreen() {

    private lateinit var checks: LinearLayout

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        showScreen("Check notifications") { column ->
            addStatusLine(column)
            checks = vertical()
            column.addView(checks)
            column.addView(button("Send a test notification") { sendTest() })
            column.addView(button("Check again") { check() })
            column.addView(button("Open notification settings") {
                startActivity(
                    Intent(Settings.ACTION_APP_NOTIFICATION_SETTINGS).putExtra(Settings.EXTRA_APP_PACKAGE, packageName),
                )
            })
        }
    }

    override fun onResume() {
        super.onResume()
        check() // again after a visit to the settings
    }

    /** Runs the notification doctor and lists its checks. */
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

    /** Asks the server for a test notification. */
    private fun sendTest() = status.run("Asking the server for a test notification") {
        ibkey.sendTestNotification()
        "Sent. It should show within seconds; then press \"Check again\" to see how long it took."
    }

    /** One check: its mark, what was measured, and what to do, in red when it failed. */
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
