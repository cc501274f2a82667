package io.ibkey.sample

import android.os.Bundle
import android.view.View
import android.widget.LinearLayout
import io.ibkey.android.LoginNotifications
import io.ibkey.core.ApprovalOutcome
import io.ibkey.core.LoginChallenge
import io.ibkey.protocol.Decision
import java.text.DateFormat
import java.util.Date

/**
 * The approval screen: the logins waiting for this phone's users — the one a notification was
 * tapped for, and those pulled from the server when the screen opens — each with who, what,
 * from where and when, the three numbers to pick from (the login page shows one of them), and
 * "Deny" and "This wasn't me". Picking the right number asks for the PIN, then approves.
 */
class ApprovalActivity : SampleScreen() {

    private lateinit var list: LinearLayout

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        showScreen("Logins waiting for you") { column ->
            addStatusLine(column)
            list = vertical()
            column.addView(list)
            column.addView(button("Check again") { refresh() })
        }
        refresh()
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

    /** One waiting login: who, what, from where and when, and the buttons that answer it. */
    private fun loginCard(challenge: LoginChallenge): View {
        val ctx = challenge.context
        val time = DateFormat.getTimeInstance().format(Date(ctx.loginTime * 1000))
        val card = vertical(paddingDp = 12)
        card.addView(note(
            "${challenge.username} → ${ctx.application}\n${ctx.browser}, ${ctx.location} " +
                "(${ctx.ipAddress}) at $time",
        ))
        if (challenge.numberChoices.isNotEmpty()) {
            card.addView(note("Pick the number shown on the login page:"))
            val numbers = LinearLayout(this).apply { orientation = LinearLayout.HORIZONTAL }
            for (number in challenge.numberChoices.map { it.toUByte() }) {
                numbers.addView(
                    button(number.toString()) { decide(challenge) { ibkey.approve(challenge, number) } }
                        .apply { textSize = 24f },
                )
            }
            card.addView(numbers)
        } else {
            card.addView(button("Approve") { decide(challenge) { ibkey.approve(challenge) } })
        }
        card.addView(button("Deny") { decide(challenge) { ibkey.deny(challenge) } })
        card.addView(button("This wasn't me") { decide(challenge) { ibkey.deny(challenge, reportFraud = true) } })
        return card
    }

    /** Sends one answer ([call]) to [challenge], then takes its notification away. */
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
