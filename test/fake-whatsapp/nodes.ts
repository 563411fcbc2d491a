/** Small builders and readers for WABinary nodes (Baileys' BinaryNode shape). */
import { getBinaryNodeChild, getBinaryNodeChildren, S_WHATSAPP_NET, type BinaryNode } from '@whiskeysockets/baileys';

export type { BinaryNode };
export { getBinaryNodeChild as child, getBinaryNodeChildren as children };

export const node = (
  tag: string,
  attrs: Record<string, string | undefined> = {},
  content?: BinaryNode['content'],
): BinaryNode => {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) clean[k] = v;
  return content === undefined ? { tag, attrs: clean } : { tag, attrs: clean, content };
};

export const iqResult = (request: BinaryNode, content?: BinaryNode[]): BinaryNode =>
  node('iq', { id: request.attrs['id'], type: 'result', from: request.attrs['to'] ?? S_WHATSAPP_NET }, content);

export const iqError = (request: BinaryNode, code: number, text: string): BinaryNode =>
  node('iq', { id: request.attrs['id'], type: 'error', from: request.attrs['to'] ?? S_WHATSAPP_NET }, [
    node('error', { code: String(code), text }),
  ]);

/** The node's content as text (WABinary strings may arrive as bytes). */
export function textOf(n: BinaryNode | undefined): string | undefined {
  const content = n?.content;
  if (typeof content === 'string') return content;
  if (content instanceof Uint8Array) return Buffer.from(content).toString('utf8');
  return undefined;
}

export function bytesOf(n: BinaryNode | undefined): Buffer | undefined {
  const content = n?.content;
  if (content instanceof Uint8Array) return Buffer.from(content);
  if (typeof content === 'string') return Buffer.from(content, 'binary');
  return undefined;
}

/** Big-endian unsigned integer of 1–4 bytes, as Baileys' encodeBigEndian writes it. */
export const readBigEndian = (bytes: Buffer) => bytes.reduce((n, b) => n * 256 + b, 0);

export const childrenOf = (n: BinaryNode | undefined): BinaryNode[] =>
  Array.isArray(n?.content) ? (n.content as BinaryNode[]) : [];
