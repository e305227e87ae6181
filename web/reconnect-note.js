// The line under the connection state while the SDK reconnects: why the connection was lost and
// a countdown to the latest moment of the next attempt.
import { exponential } from '@gateway/protocol/codes';

/**
 * The SDK's reconnect back-off, passed to connect() so the countdown uses the same numbers: each
 * retry waits a random delay below `exponential(attempt, baseMs, capMs)` (full jitter), the
 * attempt counting up from 0 until a `welcome`. The SDK does not say which delay it drew, so the
 * page counts down to that bound: the attempt may come sooner, never later.
 */
export const RECONNECT = { baseMs: 250, capMs: 10_000 };

/** What a `close` event says, for people. */
export function closeText({ code, reason }) {
  if (reason) return `${reason} (${code})`;
  return code === 1006 ? 'the connection dropped (1006)' : `closed with ${code}`;
}

export function createReconnectNote(el) {
  let attempt = 0;
  let deadline = 0;
  let why = '';
  let timer;

  function render() {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    el.textContent = `${why} · ${left > 0 ? `next attempt within ${left} s` : 'retrying now…'}`;
    if (left <= 0) clearInterval(timer);
  }

  return {
    /** A connection or token failure: the SDK waits before its next attempt. */
    lost(reason) {
      why = reason;
      deadline = Date.now() + exponential(attempt++, RECONNECT.baseMs, RECONNECT.capMs);
      el.hidden = false;
      clearInterval(timer);
      timer = setInterval(render, 250);
      render();
    },
    /** Welcomed: the next outage starts from the first delay again (as the SDK's policy). */
    welcomed() {
      attempt = 0;
      this.hide();
    },
    hide() {
      clearInterval(timer);
      el.hidden = true;
      el.textContent = '';
    },
  };
}
