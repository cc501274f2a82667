package io.ibkey.sample

import android.os.Bundle
import android.text.InputType
import android.widget.EditText
import android.widget.LinearLayout
import io.ibkey.core.RecoverableAccount
import java.text.DateFormat
import java.util.Date

/**
 * "Recover my accounts", for an app that starts with no users (reinstalled, or its data
 * cleared) on a phone whose Keystore still holds IB Key's keys: the accounts the server offers
 * to restore, each with where its 6-digit code went and a field for it, and the keys whose
 * accounts cannot come back, with why. A recovered account asks for a new PIN when the old one
 * went with the app's data.
 */
class RecoverActivity : SampleScreen() {

    private lateinit var list: LinearLayout

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        showScreen("Recover my accounts") { column ->
            column.addView(note(
                "IB Key looks for its keys on this phone and asks the server which accounts they " +
                    "belong to. We send a 6-digit code to each account's e-mail or phone; type it here.",
                paddingDp = 8,
            ))
            addStatusLine(column, selectable = true)
            list = vertical()
            column.addView(list)
            column.addView(button("Look again (sends new codes)") { search() })
        }
        if (savedInstanceState == null) search()
    }

    /** Asks the server which accounts this phone's keys can bring back (it sends their codes). */
    private fun search() {
        list.removeAllViews()
        status.run("Looking for your accounts") {
            val offer = ibkey.findRecoverableAccounts()
            offer.recoverable.forEach { list.addView(recoverable(it)) }
            offer.lost.forEach { lost ->
                list.addView(note("Cannot be recovered: ${lost.reason}", paddingDp = 8))
            }
            "${offer.recoverable.size} account(s) can be recovered."
        }
    }

    /** One account the server offers to restore: where its code went, a field for it, and the button. */
    private fun recoverable(account: RecoverableAccount): LinearLayout {
        val card = vertical(paddingDp = 12)
        val enrolled = DateFormat.getDateInstance().format(Date(account.enrolledAt * 1000))
        val expires = DateFormat.getTimeInstance(DateFormat.SHORT).format(Date(account.codeExpiresAt * 1000))
        card.addView(note(
            "${account.username}, activated on '${account.deviceName}' on $enrolled.\n" +
                "Code sent to ${account.codeSentTo}, valid until $expires.",
        ))
        val code = EditText(this).apply {
            hint = "6-digit code"
            inputType = InputType.TYPE_CLASS_NUMBER
        }
        card.addView(code)
        card.addView(button("Recover ${account.username}") {
            val typed = code.text.toString()
            status.run("Recovering ${account.username}") {
                val recovered = ibkey.recoverAccount(account.username, typed)
                list.removeView(card)
                "${recovered.username} is back on this phone."
            }
        })
        return card
    }
}
