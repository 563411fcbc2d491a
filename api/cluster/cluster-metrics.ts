import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQUEST = 'wag:cluster-metrics-request';
const REPLY = 'wag:cluster-metrics-reply';
/** Under prom-client's own 5 s per-worker timeout, so a scrape is answered either way. */
const REPLY_TIMEOUT_MS = 6_000;

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}

interface MetricsReply {
  type: typeof REPLY;
  id: number;
  text?: string;
  error?: string;
}

/**
 * Where an api process gets the text of GET /metrics, given its own registry. Behind a cluster
 * primary every api process answers with the whole cluster's figures (summed; gauges by their own
 * aggregator), so a scrape means the same whichever process the connection lands on.
 */
export type MetricsSource = (registry: Registry) => () => Promise<string>;

/** A process on its own: its registry is the whole api. */
export const localMetrics: MetricsSource = (registry) => () => registry.metrics();

/**
 * The api-process side of a cluster: offers the registry to the primary's aggregation and asks the
 * primary, which gathers every process's registry over IPC.
 */
export const clusterMetrics: MetricsSource = (registry) => {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener that answers the primary's requests.
  new AggregatorRegistry();
  const waiting = new Map<
    number,
    { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
  >();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (!isReply(message)) return;
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    clearTimeout(pending.timer);
    if (message.text !== undefined) pending.resolve(message.text);
    else pending.reject(new Error(message.error ?? 'the primary sent no metrics'));
  });
  return () => {
    const id = nextId++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the cluster primary did not answer with metrics in time'));
      }, REPLY_TIMEOUT_MS);
      waiting.set(id, { resolve, reject, timer });
      const request: MetricsRequest = { type: REQUEST, id };
      process.send!(request);
    });
  };
};

/** The primary side: answers each process's request with the aggregate of all of them. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isRequest(message)) return;
    const reply = (body: Omit<MetricsReply, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: REPLY, id: message.id, ...body } satisfies MetricsReply);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: unknown) => reply({ error: (err as Error).message }),
    );
  });
}

function isRequest(message: unknown): message is MetricsRequest {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === REQUEST &&
    typeof (message as { id?: unknown }).id === 'number'
  );
}

function isReply(message: unknown): message is MetricsReply {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === REPLY &&
    typeof (message as { id?: unknown }).id === 'number'
  );
}
