import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Express } from 'express';

type Initializer = (this: unknown, ...args: unknown[]) => void;

/**
 * An HTTP server for an Express app whose requests and responses are born with the app's own
 * prototypes. Express re-parents every request and response it receives onto them
 * (`Object.setPrototypeOf`); an object whose prototype changes after it was built sends V8 down its
 * slow paths (map migrations, megamorphic property lookups) for the rest of the request. That was
 * three quarters of Express's cost per request here (bench/README.md); created this way, the
 * re-parenting finds the prototype already in place and changes nothing.
 *
 * Node's IncomingMessage and ServerResponse are plain constructor functions, which lets a
 * constructor with another prototype run them on its own object (Reflect.construct would do the
 * same for classes, but V8 builds those objects several times slower). Should a Node release turn
 * them into classes, this falls back to the plain server.
 */
export function createExpressServer(app: Express): Server {
  if (isClass(IncomingMessage) || isClass(ServerResponse)) return createServer(app);
  const initRequest = IncomingMessage as unknown as Initializer;
  const initResponse = ServerResponse as unknown as Initializer;
  function AppRequest(this: unknown, ...args: unknown[]): void {
    initRequest.apply(this, args);
  }
  AppRequest.prototype = app.request;
  function AppResponse(this: unknown, ...args: unknown[]): void {
    initResponse.apply(this, args);
  }
  AppResponse.prototype = app.response;
  return createServer(
    {
      IncomingMessage: AppRequest as unknown as typeof IncomingMessage,
      ServerResponse: AppResponse as unknown as typeof ServerResponse,
    },
    app,
  );
}

function isClass(constructor: unknown): boolean {
  return /^class\b/.test(Function.prototype.toString.call(constructor));
}
