import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import {
  CloseCode,
  LINK_BALANCER_HEADER,
  LINK_NONCE_HEADER,
  fullJitter,
  splitMessage,
  splitUnicast,
  linkFrames,
  validateM2BHead,
  validateInit,
  type M2BHead, encodeB2M } from '@gateway/protocol';
import { LinkWriter, LogLimiter, linkProof, safeEqual, type Log } from '@gateway/server-kit';

/** One 'cannot reach monolith' line per address per minute. */
const unreachable = new LogLimiter(60_000);

export type LinkState = 'connecting' | 'handshaking' | 'ready' | 'backoff' | 'stopped';

/** TLS for links that cross machines: verify the monolith against `ca`, present `cert`/`key`. */
export interface LinkTls {
  ca: string;
  cert?: string | undefined;
  key?: string | undefined;
}

export interface LinkOptions {
  secret: string;
  /** Dial `wss://` with these; plain `ws://` when undefined. */
  tls?: LinkTls | undefined;
  balancerId: string;
  backoffMinMs: number;
  backoffMaxMs: number;
  heartbeatMs: number;
  maxBufferBytes: number;
  /** A heartbeat's round trip, in seconds (metrics). */
  onRoundTrip?: (seconds: number) => void;
}

export interface LinkHandler {
  /** The monolith sent a valid `init`; frames may flow. */
  ready(link: MonolithLink): void;
  /** A ready link went away (it will redial by itself unless stopped). */
  down(link: MonolithLink, reason: string): void;
  /** One frame, in the order the monolith sent it; `message` is the raw JSON text, if any. */
  frame(link: MonolithLink, head: M2BHead, message: string | undefined): void;
  /** The last frame of one link message was handed over. */
  batchEnd?(link: MonolithLink): void;
}

/**
 * One balancer → monolith link (DESIGN §3): dials with a fresh nonce (never the secret), requires
 * an `init` whose proof of LINK_SECRET binds that nonce, answers with its own proof (`hello`),
 * heartbeats both ways, and redials with full-jitter back-off. A peer that fails is never used.
 * Frames are handed to the handler synchronously, so they are processed in order.
 */
export class MonolithLink {
  state: LinkState = 'backoff';
  monolithId: string | undefined;
  private ws: WebSocket | undefined;
  /** Writes the ready link's frames (corked per turn, bounded, heartbeat): LinkWriter. */
  private writer: LinkWriter | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  framesIn = 0;
  /** Frames sent over earlier connections of this link. */
  private framesOutBefore = 0;
  /** Discovery no longer lists this address; stop for good once the link is down. */
  retired = false;

  constructor(
    readonly address: string,
    private readonly opts: LinkOptions,
    private readonly handler: LinkHandler,
    private readonly log: Log,
  ) {}

  start(): void {
    if (this.state === 'stopped') return;
    this.dial();
  }

  stop(): void {
    const wasReady = this.state === 'ready';
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.writer?.stop();
    this.ws?.removeAllListeners();
    this.ws?.on('error', () => {});
    this.ws?.terminate();
    this.ws = undefined;
    if (wasReady) this.handler.down(this, 'stopped');
  }

  /** Frames sent to this monolith, over every connection of the link. */
  get framesOut(): number {
    return this.framesOutBefore + (this.writer?.framesOut ?? 0);
  }

  /**
   * Sends one frame; false when the link is not ready, or was just reset because the monolith
   * stopped reading (the caller decides what to do).
   */
  send(frame: string): boolean {
    return this.state === 'ready' && this.writer !== undefined && this.writer.send(frame);
  }

  private dial(): void {
    const nonce = randomBytes(18).toString('base64url');
    this.state = 'connecting';
    const tls = this.opts.tls;
    const ws = new WebSocket(`${tls ? 'wss' : 'ws'}://${this.address}/link`, {
      headers: {
        [LINK_NONCE_HEADER]: nonce,
        [LINK_BALANCER_HEADER]: this.opts.balancerId,
      },
      ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true } : {}),
      handshakeTimeout: Math.max(1000, this.opts.heartbeatMs),
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      // The link is authenticated and the monolith writes with JSON.stringify.
      skipUTF8Validation: true,
    });
    this.ws = ws;
    ws.on('open', () => {
      this.state = 'handshaking';
      // A monolith that accepts the socket but never sends init is as good as down.
      this.timer = setTimeout(() => this.reset('no init from monolith'), Math.max(1000, this.opts.heartbeatMs));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return this.reset('binary frame on link');
      const text = data.toString('utf8');
      if (this.state === 'handshaking') return this.handshake(text, nonce);
      try {
        for (const frame of linkFrames(text)) this.frame(frame);
      } finally {
        // The message's last run of unicasts leaves even if a frame threw.
        this.handler.batchEnd?.(this);
      }
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      // A certificate that does not verify is an authentication failure, not a network blip.
      if (tls && /CERT|SIGNATURE|ALTNAME|SELF_SIGNED/.test(err.code ?? '')) {
        this.log.warn('monolith failed link authentication (TLS certificate); dropping and retrying', { address: this.address, err: err.message });
      } else {
        // A monolith that cannot be reached is retried every few hundred ms: say so once a minute.
        const suppressed = unreachable.allow(this.address);
        if (suppressed !== undefined) this.log.warn('cannot reach monolith; retrying', { address: this.address, err: err.message, failuresSinceLastLine: suppressed });
      }
    });
    ws.on('close', (code, reason) => {
      if (code === CloseCode.LINK_AUTH_FAILED) {
        this.log.warn('monolith refused this balancer\'s link proof (LINK_SECRET differs?)', { address: this.address, monolith: this.monolithId });
      }
      this.closed(`closed ${code} ${reason.toString()}`);
    });
  }

  /** One frame of a link message (link protocol 3 batches a turn's frames). */
  private frame(text: string): void {
    this.framesIn++;
    // A request's answer (most frames) is read by position; everything else is parsed.
    const unicast = splitUnicast(text);
    if (unicast) return this.handler.frame(this, unicast.head, unicast.message);
    const split = splitMessage(text);
    if (!split || !validateM2BHead.check(split.head)) {
      // Its length, not its content: a frame carries user data.
      this.log.warn('invalid link frame dropped', { monolith: this.monolithId, bytes: text.length });
      return;
    }
    this.handler.frame(this, split.head, split.message);
  }

  private handshake(text: string, nonce: string): void {
    clearTimeout(this.timer);
    let init: unknown;
    try {
      init = JSON.parse(text);
    } catch {
      init = undefined;
    }
    if (!validateInit.check(init)) {
      this.log.warn('monolith failed link authentication (malformed init or old link version); dropping and retrying', { address: this.address });
      return this.reset('bad init');
    }
    const handshake = { balancerNonce: nonce, monolithNonce: init.nonce, balancerId: this.opts.balancerId, monolithId: init.id };
    if (!safeEqual(init.token, linkProof(this.opts.secret, 'monolith', handshake))) {
      // Nothing secret-bearing was sent to this peer: the nonce and our id only.
      this.log.warn('monolith failed link authentication (wrong proof of LINK_SECRET); dropping and retrying', { address: this.address, claimed: init.id });
      return this.reset('bad init');
    }
    this.ws?.send(encodeB2M({ type: 'hello', token: linkProof(this.opts.secret, 'balancer', handshake) }));
    this.monolithId = init.id;
    this.state = 'ready';
    this.attempt = 0;
    this.writer = new LinkWriter(this.ws!, {
      maxBufferBytes: this.opts.maxBufferBytes,
      heartbeatMs: this.opts.heartbeatMs,
      onFailure: (reason) => this.log.warn('link reset', { address: this.address, monolith: this.monolithId, reason }),
      onRoundTrip: this.opts.onRoundTrip,
    });
    unreachable.clear(this.address);
    this.log.info('link ready', { address: this.address, monolith: init.id });
    this.handler.ready(this);
  }

  private reset(reason: string): void {
    this.log.warn('link reset', { address: this.address, monolith: this.monolithId, reason });
    this.ws?.terminate();
  }

  private closed(reason: string): void {
    clearTimeout(this.timer);
    if (this.writer) {
      this.writer.stop();
      this.framesOutBefore += this.writer.framesOut;
      this.writer = undefined;
    }
    if (this.state === 'stopped') return;
    const wasReady = this.state === 'ready';
    this.ws = undefined;
    this.state = 'backoff';
    if (wasReady) this.handler.down(this, reason);
    const delay = fullJitter(this.attempt++, this.opts.backoffMinMs, this.opts.backoffMaxMs);
    this.timer = setTimeout(() => this.dial(), delay);
  }
}
