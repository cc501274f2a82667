package io.ibkey.sample

import android.graphics.Typeface
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.LoginNotifications
import io.ibkey.android.common.IbKey
import io.ibkey.core.ApprovalOutcome
import io.ibkey.core.LoginChallenge
import io.ibkey.protocol.Decision
import java.text.DateFormat
import java.util.Date
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel

/**
 * The approval screen: the logins waiting for this phone's users — the one a notification was
 * tapped for, and those pulled from the server when the screen opens — each with who, what,
 * from where and when, the three numbers to pick from (the login page shows one of them), and
 * "Deny" and "This wasn't me". Picking the right number asks for the PIN, then approves.
 */
class ApprovalActivity : FragmentActivity() {

    private val ibkey: IbKey get() = (application as SampleApplication).ibkey
    private val notifications: LoginNotifications get() = (application as SampleApplication).loginNotifications

    private lateinit var list: LinearLayout
    private lateinit var status: StatusLine
    private val screenScope = CoroutineScope(SupervisorJob() + Dispatchers.Main.immediate)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(dp(16), dp(16), dp(16), dp(16))
        }
        column.addView(TextView(this).apply {
            text = "Logins waiting for you"
            setTypeface(typeface, Typeface.BOLD)
        })
        val statusView = TextView(this).apply { setPadding(0, dp(8), 0, dp(8)) }
        column.addView(statusView)
        status = StatusLine(statusView, screenScope)
        list = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        column.addView(list)
        column.addView(Button(this).apply {
            text = "Check again"
            setOnClickListener { refresh() }
        })
        setContentView(ScrollView(this).apply { addView(column) })
        refresh()
    }

    override fun onDestroy() {
        screenScope.cancel()
        super.onDestroy()
    }

    /** The tapped notification's login first, then those the server still holds for us. */
    private fun refresh() = status.run("Looking for logins") {
        val tapped = LoginNotifications.challengeFrom(ibkey, intent)
        val pulled = ibkey.pendingLogins().filter { it.challengeId != tapped?.challengeId }
        val waiting = listOfNotNull(tapped) + pulled
        list.removeAllViews()
        waiting.forEach { list.addView(loginCard(it)) }
        if (waiting.isEmpty()) "No login is waiting." else "${waiting.size} login(s) waiting."
    }

    private fun loginCard(challenge: LoginChallenge): View {
        val ctx = challenge.context
        val time = DateFormat.getTimeInstance().format(Date(ctx.loginTime * 1000))
        val card = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(0, dp(12), 0, dp(12))
        }
        card.addView(TextView(this).apply {
            text = "${challenge.username} → ${ctx.application}\n${ctx.browser}, ${ctx.location} " +
                "(${ctx.ipAddress}) at $time"
        })
        if (challenge.numberChoices.isNotEmpty()) {
            card.addView(TextView(this).apply { text = "Pick the number shown on the login page:" })
            val numbers = LinearLayout(this).apply { orientation = LinearLayout.HORIZONTAL }
            for (number in challenge.numberChoices.map { it.toUByte() }) {
                numbers.addView(Button(this).apply {
                    text = number.toString()
                    textSize = 24f
                    setOnClickListener { decide(challenge) { ibkey.approve(challenge, number) } }
                })
            }
            card.addView(numbers)
        } else {
            card.addView(Button(this).apply {
                text = "Approve"
                setOnClickListener { decide(challenge) { ibkey.approve(challenge) } }
            })
        }
        card.addView(Button(this).apply {
            text = "Deny"
            setOnClickListener { decide(challenge) { ibkey.deny(challenge) } }
        })
        card.addView(Button(this).apply {
            text = "This wasn't me"
            setOnClickListener { decide(challenge) { ibkey.deny(challenge, reportFraud = true) } }
        })
        return card
    }

    private fun decide(challenge: LoginChallenge, call: suspend () -> ApprovalOutcome) = status.run("Sending") {
        val outcome = call()
        notifications.dismiss(challenge)
        list.removeAllViews()
        when (outcome.decision) {
            Decision.APPROVE -> "Approved: ${outcome.username} is logged in."
            Decision.DENY -> "Denied."
            Decision.REPORT_FRAUD -> "Denied and reported. Notifications for ${outcome.username} pause for a while; " +
                "consider changing your password."
            Decision.WRONG_NUMBER -> "Refused: the number did not match three times."
        }
    }

}
