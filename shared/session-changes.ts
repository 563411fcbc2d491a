/**
 * Announced on the control channel whenever the api changes a session (created, paired, logged
 * out, deleted). Workers reconcile the sessions they hold; api processes drop what they remember
 * about it.
 */
export interface SessionChanged {
  type: 'session.changed';
  sessionId: string;
}

export function sessionChangedMessage(sessionId: string): string {
  const message: SessionChanged = { type: 'session.changed', sessionId };
  return JSON.stringify(message);
}

/** The session a control message is about, or undefined for any other message. */
export function changedSessionOf(raw: string): string | undefined {
  try {
    const message = JSON.parse(raw) as Partial<SessionChanged> | null;
    return message?.type === 'session.changed' && typeof message.sessionId === 'string' ? message.sessionId : undefined;
  } catch {
    return undefined;
  }
}
