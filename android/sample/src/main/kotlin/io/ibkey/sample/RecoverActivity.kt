package io.ibkey.sample

import android.graphics.Typeface
import android.os.Bundle
import android.text.InputType
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.common.IbKey
import io.ibkey.core.RecoverableAccount
import java.text.DateFormat
import java.util.Date
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel

/**
 * "Recover my accounts", for an app that starts with no users (reinstalled, or its data
 * cleared) on a phone whose Keystore still holds IB Key's keys: the accounts the server offers
 * to restore, each with where its 6-digit code went and a field for it, and the keys whose
 * accounts cannot come back, with why. A recovered account asks for a new PIN when the old one
 * went with the app's data.
 */
class RecoverActivity : FragmentActivity() {

    private val ibkey: IbKey get() = (application as SampleApplication).ibkey

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
            text = "Recover my accounts"
            setTypeface(typeface, Typeface.BOLD)
        })
        column.addView(TextView(this).apply {
            text = "IB Key looks for its keys on this phone and asks the server which accounts they " +
                "belong to. We send a 6-digit code to each account's e-mail or phone; type it here."
            setPadding(0, dp(8), 0, dp(8))
        })
        val statusView = TextView(this).apply {
            setPadding(0, dp(8), 0, dp(8))
            setTextIsSelectable(true)
        }
        column.addView(statusView)
        status = StatusLine(statusView, screenScope)
        list = LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }
        column.addView(list)
        column.addView(Button(this).apply {
            text = "Look again (sends new codes)"
            setOnClickListener { search() }
        })
        setContentView(ScrollView(this).apply { addView(column) })
        if (savedInstanceState == null) search()
    }

    override fun onDestroy() {
        screenScope.cancel()
        super.onDestroy()
    }

    private fun search() {
        list.removeAllViews()
        status.run("Looking for your accounts") {
            val offer = ibkey.findRecoverableAccounts()
            offer.recoverable.forEach { list.addView(recoverable(it)) }
            offer.lost.forEach { lost ->
                list.addView(TextView(this).apply {
                    text = "Cannot be recovered: ${lost.reason}"
                    setPadding(0, dp(8), 0, dp(8))
                })
            }
            "${offer.recoverable.size} account(s) can be recovered."
        }
    }

    private fun recoverable(account: RecoverableAccount): LinearLayout {
        val card = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(0, dp(12), 0, dp(12))
        }
        val enrolled = DateFormat.getDateInstance().format(Date(account.enrolledAt * 1000))
        val expires = DateFormat.getTimeInstance(DateFormat.SHORT).format(Date(account.codeExpiresAt * 1000))
        card.addView(TextView(this).apply {
            text = "${account.username}, activated on '${account.deviceName}' on $enrolled.\n" +
                "Code sent to ${account.codeSentTo}, valid until $expires."
        })
        val code = EditText(this).apply {
            hint = "6-digit code"
            inputType = InputType.TYPE_CLASS_NUMBER
        }
        card.addView(code)
        card.addView(Button(this).apply {
            text = "Recover ${account.username}"
            setOnClickListener {
                val typed = code.text.toString()
                status.run("Recovering ${account.username}") {
                    val recovered = ibkey.recoverAccount(account.username, typed)
                    list.removeView(card)
                    "${recovered.username} is back on this phone."
                }
            }
        })
        return card
    }
}
