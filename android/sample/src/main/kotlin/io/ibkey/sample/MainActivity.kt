package io.ibkey.sample

import android.app.AlertDialog
import android.content.Intent
import android.os.Bundle
import android.text.InputType
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.TextView
import androidx.core.widget.doAfterTextChanged
import io.ibkey.core.Account
import io.ibkey.core.ActivationException
import io.ibkey.core.ActivationOutcome
import java.text.DateFormat
import java.util.Date
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.launch

/**
 * One screen: activate a user by session ID or by a QR code's text (pasted, or shared to the app),
 * which also adds further users; the users on this device, each removable; the way to the logins
 * waiting for approval ([ApprovalActivity]), to offline codes ([OfflineCodesActivity]), to moving
 * IB Key here from another phone ([MoveActivity]) and to the notification check
 * ([NotificationsActivity]); with no users yet, "Recover my accounts" ([RecoverActivity]); and
 * the outcome of the last action, errors shown as `error [CODE]: message`. Users moved to another
 * phone meanwhile are announced when the screen shows.
 */
class MainActivity : SampleScreen() {

    private lateinit var sessionId: EditText
    private lateinit var sessionIdHint: TextView
    private lateinit var qrPayload: EditText
    private lateinit var accountList: LinearLayout
    private val actionButtons = mutableListOf<Button>()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        showScreen(title = null, ::content)
        if (savedInstanceState == null && intent?.action == Intent.ACTION_SEND) {
            intent.getStringExtra(Intent.EXTRA_TEXT)?.let(::inspect)
        }
    }

    override fun onResume() {
        super.onResume()
        refreshAccounts()
        showMoveNotices()
    }

    /** The screen's views, added to its [column]. */
    private fun content(column: LinearLayout) {
        column.addView(heading("Add a user with the session ID"))
        column.addView(note("Shown under the QR code on the portal's activation page."))
        sessionId = EditText(this).apply {
            hint = "K7QP-3MZX-9TWD"
            inputType = InputType.TYPE_CLASS_TEXT or
                InputType.TYPE_TEXT_FLAG_CAP_CHARACTERS or
                InputType.TYPE_TEXT_FLAG_NO_SUGGESTIONS
            doAfterTextChanged { checkSessionId(it?.toString().orEmpty()) }
        }
        column.addView(sessionId)
        sessionIdHint = note("")
        column.addView(sessionIdHint)
        column.addView(action("Activate with session ID") {
            val typed = sessionId.text.toString()
            activate("Activating") { ibkey.activateWithSessionId(typed) }
        })

        column.addView(heading("…or with the QR code's text"))
        qrPayload = EditText(this).apply {
            hint = "IBK1.…"
            inputType = InputType.TYPE_CLASS_TEXT or InputType.TYPE_TEXT_FLAG_NO_SUGGESTIONS
        }
        column.addView(qrPayload)
        column.addView(action("Activate from QR text") {
            val payload = qrPayload.text.toString()
            activate("Activating") { ibkey.activateFromQr(payload) }
        })

        addStatusLine(column, paddingDp = 16, selectable = true)

        column.addView(action("Logins waiting for approval", disableWhileBusy = false) {
            startActivity(Intent(this, ApprovalActivity::class.java))
        })
        column.addView(action("Challenge/response (offline)", disableWhileBusy = false) {
            startActivity(Intent(this, OfflineCodesActivity::class.java))
        })
        column.addView(action("Check notifications", disableWhileBusy = false) {
            startActivity(Intent(this, NotificationsActivity::class.java))
        })
        column.addView(action("Move IB Key to this phone", disableWhileBusy = false) {
            startActivity(Intent(this, MoveActivity::class.java))
        })

        column.addView(heading("Users on this device"))
        accountList = vertical()
        column.addView(accountList)
    }

    /** Checks the session ID on every keystroke: typos show before anything is sent. */
    private fun checkSessionId(typed: String) {
        sessionIdHint.text = try {
            ibkey.checkSessionId(typed)
            "Looks right."
        } catch (e: ActivationException.SessionIdWrongLength) {
            if (e.found < e.expected) "" else e.message // still typing: say nothing yet
        } catch (e: ActivationException) {
            e.message.orEmpty()
        }
    }

    /** A QR code's text shared to the app: shows whom it would add before activating. */
    private fun inspect(payload: String) {
        qrPayload.setText(payload.trim())
        perform("Reading the code") {
            val request = ibkey.inspectQr(payload)
            val expires = DateFormat.getTimeInstance().format(Date(request.expiresAt * 1000))
            "This code adds ${request.username} (session ID …${request.sessionIdHint}, valid " +
                "until $expires). Press \"Activate from QR text\" to go on."
        }
    }

    /** Activates a user through [call] and says how it went. */
    private fun activate(what: String, call: suspend () -> ActivationOutcome) = perform(what) {
        when (val result = call()) {
            is ActivationOutcome.Activated ->
                "${result.account.username} is activated on this device."
            is ActivationOutcome.AlreadyActivatedWithThisCode ->
                "${result.account.username} was already activated with this code: nothing more to do."
            is ActivationOutcome.Moved ->
                "${result.account.username} moved to this device. Stopped working: " +
                    "${result.replaced.joinToString().ifEmpty { "no other device" }}."
        }
    }

    /** Asks, then removes [account] from this device and the server. */
    private fun remove(account: Account) {
        AlertDialog.Builder(this)
            .setTitle("Remove ${account.username}?")
            .setMessage("The device key is revoked on the server and deleted from this phone.")
            .setPositiveButton("Remove") { _, _ ->
                perform("Removing ${account.username}") {
                    "${ibkey.removeAccount(account.username).username} was removed from this device."
                }
            }
            .setNegativeButton("Keep", null)
            .show()
    }

    /** Runs one action, with the buttons disabled meanwhile, and shows how it ended. */
    private fun perform(what: String, block: suspend () -> String) {
        actionButtons.forEach { it.isEnabled = false }
        status.show("$what…", error = false)
        screenScope.launch {
            try {
                status.show(block(), error = false)
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                status.show(StatusLine.describe(e), error = true)
            } finally {
                actionButtons.forEach { it.isEnabled = true }
                refreshAccounts()
            }
        }
    }

    /** Lists the users on this device (or offers recovery when there are none) and the PIN lockout. */
    private fun refreshAccounts() {
        screenScope.launch {
            try {
                val accounts = ibkey.accounts()
                accountList.removeAllViews()
                if (accounts.isEmpty()) {
                    accountList.addView(note("No users yet. Used IB Key on this phone before (the app was reinstalled)?"))
                    accountList.addView(action("Recover my accounts", disableWhileBusy = false) {
                        startActivity(Intent(this@MainActivity, RecoverActivity::class.java))
                    })
                }
                accounts.forEach { accountList.addView(accountRow(it)) }
                ibkey.pinLockout()?.let {
                    accountList.addView(note("PIN pad locked for ${it.remainingSecs} more seconds."))
                }
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                status.show(StatusLine.describe(e), error = true)
            }
        }
    }

    /** Tells the user about accounts moved to another phone since the app last showed. */
    private fun showMoveNotices() {
        screenScope.launch {
            try {
                val notices = ibkey.takeMoveNotices()
                if (notices.isNotEmpty()) {
                    AlertDialog.Builder(this@MainActivity)
                        .setTitle("IB Key moved to another phone")
                        .setMessage(notices.joinToString("\n\n") { it.message })
                        .setPositiveButton("OK", null)
                        .show()
                }
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                status.show(StatusLine.describe(e), error = true)
            }
        }
    }

    /** One user: name, since when, and a "Remove" button. */
    private fun accountRow(account: Account): View {
        val enrolled = DateFormat.getDateTimeInstance().format(Date(account.enrolledAt * 1000))
        val text = TextView(this).apply {
            text = "${account.username}\nsince $enrolled"
            layoutParams = LinearLayout.LayoutParams(0, LinearLayout.LayoutParams.WRAP_CONTENT, 1f)
        }
        val button = action("Remove", disableWhileBusy = false) { remove(account) }
        return LinearLayout(this).apply {
            orientation = LinearLayout.HORIZONTAL
            setPadding(0, dp(8), 0, dp(8))
            addView(text)
            addView(button)
        }
    }

    /** A section's heading: bold, with room above it. */
    private fun heading(text: String) = bold(text).apply { setPadding(0, dp(16), 0, dp(4)) }

    /** A button for [onClick], disabled while an action runs unless not [disableWhileBusy]. */
    private fun action(label: String, disableWhileBusy: Boolean = true, onClick: () -> Unit) =
        button(label, onClick).apply { if (disableWhileBusy) actionButtons += this }
}
