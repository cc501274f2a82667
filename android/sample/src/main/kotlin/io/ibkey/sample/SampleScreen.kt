package io.ibkey.sample

import android.graphics.Typeface
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.fragment.app.FragmentActivity
import io.ibkey.android.LoginNotifications
import io.ibkey.android.common.IbKey
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel

/**
 * What every screen of the sample shares: the app's [IbKey] and [LoginNotifications], a
 * coroutine scope that ends with the screen, and the look — a scrolling column with 16 dp
 * margins under a bold title, with a [StatusLine] in it. A screen adds only its own views and
 * actions, through [showScreen].
 */
abstract class SampleScreen : FragmentActivity() {

    /** The app's one [IbKey] (see [SampleApplication]). */
    protected val ibkey: IbKey get() = (application as SampleApplication).ibkey

    /** The app's login notifications (see [SampleApplication]). */
    protected val notifications: LoginNotifications get() = (application as SampleApplication).loginNotifications

    /**
     * The screen's coroutines, cancelled when it is destroyed: what AndroidX's `lifecycleScope`
     * is (a supervisor job on `Dispatchers.Main.immediate`), without lifecycle-runtime-ktx.
     */
    protected val screenScope = CoroutineScope(SupervisorJob() + Dispatchers.Main.immediate)

    /** How the screen's last action ended; made by [addStatusLine]. */
    protected lateinit var status: StatusLine
        private set

    /** Ends the screen's coroutines with it. */
    override fun onDestroy() {
        screenScope.cancel()
        super.onDestroy()
    }

    /**
     * Shows the screen: [title] in bold (no title when null), then the views [content] adds to
     * the column, which has 16 dp margins and scrolls.
     */
    protected fun showScreen(title: String?, content: (column: LinearLayout) -> Unit) {
        val column = vertical().apply { setPadding(dp(16), dp(16), dp(16), dp(16)) }
        if (title != null) column.addView(bold(title))
        content(column)
        setContentView(ScrollView(this).apply { addView(column) })
    }

    /**
     * Adds the line that shows how the last action ended ([status]) to [column]: [paddingDp]
     * above and below it, its text selectable when [selectable], in [textSizeSp] when given.
     */
    protected fun addStatusLine(
        column: LinearLayout,
        paddingDp: Int = 8,
        selectable: Boolean = false,
        textSizeSp: Float? = null,
    ) {
        val view = TextView(this).apply {
            setPadding(0, dp(paddingDp), 0, dp(paddingDp))
            if (textSizeSp != null) textSize = textSizeSp
            if (selectable) setTextIsSelectable(true)
        }
        column.addView(view)
        status = StatusLine(view, screenScope)
    }

    /** A vertical [LinearLayout] (a list, a card), [paddingDp] above and below it. */
    protected fun vertical(paddingDp: Int = 0) = LinearLayout(this).apply {
        orientation = LinearLayout.VERTICAL
        if (paddingDp != 0) setPadding(0, dp(paddingDp), 0, dp(paddingDp))
    }

    /** [text] in bold: a screen's title, or a heading. */
    protected fun bold(text: String) = TextView(this).apply {
        this.text = text
        setTypeface(typeface, Typeface.BOLD)
    }

    /** Plain [text], [paddingDp] above and below it. */
    protected fun note(text: String, paddingDp: Int = 0) = TextView(this).apply {
        this.text = text
        if (paddingDp != 0) setPadding(0, dp(paddingDp), 0, dp(paddingDp))
    }

    /** A button labelled [label] that runs [onClick]. */
    protected fun button(label: String, onClick: () -> Unit) = Button(this).apply {
        text = label
        setOnClickListener { onClick() }
    }
}
