/**
 * One client WebSocket of the fake server: the intro and 3-byte length framing, the Noise
 * handshake, then WABinary nodes both ways (Baileys' own encoder and decoder).
 */
import { EventEmitter } from 'node:events';
import { decodeBinaryNode, encodeBinaryNode, NOISE_WA_HEADER, proto, type BinaryNode } from '@whiskeysockets/baileys';
import type { WebSocket } from 'ws';
import { NoiseServerHandshake, type NoiseTransport } from './noise-server.js';
import type { KeyPair } from './cert-chain.js';

export interface ConnectionEvents {
  /** The handshake finished: the client said who it is. */
  hello: [payload: proto.ClientPayload, clientStatic: Buffer];
  node: [node: BinaryNode];
  close: [];
}

let nextId = 1;

export class ClientConnection extends EventEmitter<ConnectionEvents> {
  readonly id = nextId++;
  private inBytes = Buffer.alloc(0);
  private introSeen = false;
  private handshake: NoiseServerHandshake | undefined;
  private transport: NoiseTransport | undefined;
  private helloAnswered = false;
  /** Frames are decoded one after another: decodeBinaryNode is async. */
  private decoding: Promise<void> = Promise.resolve();
  closed = false;

  constructor(
    readonly ws: WebSocket,
    serverStatic: KeyPair,
    certChain: Uint8Array,
    private readonly onError: (err: unknown) => void,
  ) {
    super();
    this.handshake = new NoiseServerHandshake(serverStatic, certChain);
    ws.on('message', (data: Buffer) => this.receive(data));
    ws.on('close', () => {
      this.closed = true;
      this.emit('close');
    });
    ws.on('error', () => undefined);
  }

  get ready(): boolean {
    return this.transport !== undefined && !this.closed;
  }

  send(node: BinaryNode): void {
    if (!this.transport || this.closed) return;
    this.writeFrame(this.transport.encrypt(encodeBinaryNode(node)));
  }

  /** Drops the TCP connection without a close frame (a network failure as the client sees it). */
  drop(): void {
    this.ws.terminate();
  }

  close(): void {
    this.ws.close();
  }

  private writeFrame(data: Uint8Array): void {
    const frame = Buffer.alloc(3 + data.byteLength);
    frame.writeUIntBE(data.byteLength, 0, 3);
    frame.set(data, 3);
    this.ws.send(frame);
  }

  private receive(data: Buffer): void {
    this.inBytes = Buffer.concat([this.inBytes, data]);
    try {
      if (!this.introSeen && !this.readIntro()) return;
      while (this.inBytes.length >= 3) {
        const size = this.inBytes.readUIntBE(0, 3);
        if (this.inBytes.length < size + 3) return;
        const frame = this.inBytes.subarray(3, size + 3);
        this.inBytes = this.inBytes.subarray(size + 3);
        this.onFrame(Buffer.from(frame));
      }
    } catch (err) {
      this.onError(err);
      this.ws.terminate();
    }
  }

  /** `WA 6 3`, or `ED 0 1 <len:3> <routing info>` before it when the client has routing info. */
  private readIntro(): boolean {
    let offset = 0;
    if (this.inBytes.subarray(0, 2).toString() === 'ED') {
      if (this.inBytes.length < 7) return false;
      offset = 7 + this.inBytes.readUIntBE(4, 3);
    }
    if (this.inBytes.length < offset + NOISE_WA_HEADER.length) return false;
    if (!this.inBytes.subarray(offset, offset + NOISE_WA_HEADER.length).equals(NOISE_WA_HEADER))
      throw new Error('bad intro header');
    this.inBytes = this.inBytes.subarray(offset + NOISE_WA_HEADER.length);
    this.introSeen = true;
    return true;
  }

  private onFrame(frame: Buffer): void {
    if (this.transport) {
      const plain = this.transport.decrypt(frame);
      this.decoding = this.decoding
        .then(async () => {
          const node = await decodeBinaryNode(plain);
          if (!this.closed) this.emit('node', node);
        })
        .catch(this.onError);
      return;
    }
    const handshake = this.handshake!;
    if (!this.helloAnswered) {
      this.helloAnswered = true;
      this.writeFrame(handshake.serverHello(frame));
      return;
    }
    const { payload, clientStatic, transport } = handshake.clientFinish(frame);
    this.transport = transport;
    this.handshake = undefined;
    this.emit('hello', payload, clientStatic);
  }
}
