import { OpenAPIRegistry, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import type { Capability } from '../../shared/capabilities.js';
import { ERROR_STATUS, type ErrorCode } from '../../shared/errors.js';
import { assertCapability, principalOf } from '../auth/authenticate.js';
import { admissionOf, firstRefusal } from './admission.js';
import type { Principal } from '../auth/principal.js';
import { ErrorEnvelope } from './schemas.js';
import { bodyReaders, SMALL_JSON_BODY_BYTES, type BodyLimits } from './request-body.js';
import { parseRequestPart } from './validate.js';

type AnyObject = z.ZodObject<z.ZodRawShape>;
type Out<S> = S extends z.ZodType ? z.output<S> : Record<string, never>;

/**
 * What a handler returns when it has written the response itself (a CSV stream, a PNG) instead of
 * returning the JSON body.
 */
export const RESPONSE_SENT: unique symbol = Symbol('response sent');

/**
 * The JSON body a route's success schema documents (its input side: what is serialized is what the
 * handler returns, untransformed); nothing for a route without one (204).
 */
type Body<S> = S extends z.ZodType ? z.input<S> : void;

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: Principal;
  /** The rate limiter's verdict; only routes with `overlapsAdmission` see it still pending. */
  admitted: Promise<void>;
  req: Request;
  res: Response;
}

export interface RouteSpec<
  P extends AnyObject | undefined,
  Q extends AnyObject | undefined,
  B extends z.ZodType | undefined,
  S extends z.ZodType | undefined,
> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI-style path, e.g. /api/v1/sessions/{session}/contacts */
  path: string;
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  capability: Capability;
  params?: P;
  query?: Q;
  body?: B;
  /**
   * How much body the route reads: by default a route with a `body` schema reads up to 16 KB of
   * JSON, and a route without one reads nothing. Bodies are read after authentication and the
   * rate limiter's verdict, never before.
   */
  bodyLimits?: BodyLimits;
  success: { status: 200 | 201 | 202 | 204; description: string; schema?: S; contentTypes?: string[] };
  errors: ErrorCode[];
  /**
   * The handler starts while the rate limiter decides, so its first round trips overlap the
   * limiter's; it must await `admitted` (directly or through its gate) before any side effect. The
   * answer still waits for the verdict, and a refusal wins over whatever the handler found.
   */
  overlapsAdmission?: true;
  /**
   * Returns the JSON body, in the shape of the success schema (checked at compile time); a route
   * that writes its own response (CSV, PNG) returns RESPONSE_SENT after doing so.
   */
  handler: (ctx: RouteContext<Out<P>, Out<Q>, Out<B>>) => Promise<Body<S> | typeof RESPONSE_SENT>;
}

/**
 * Each route is declared once: the declaration mounts the Express handler with its validation and
 * capability check, and registers the same schemas in the OpenAPI document.
 */
export class ApiRouter {
  readonly router = Router();
  readonly registry = new OpenAPIRegistry();
  readonly declared: { method: string; path: string }[] = [];

  constructor() {
    this.registry.register('Error', ErrorEnvelope);
    this.registry.registerComponent('securitySchemes', 'bearerAuth', {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        "Send Authorization: Bearer <token>. The router accepts two kinds of token and tries each in turn: a frontend-minted login JWT (verified against the frontend JWKS; the person's org + role are read from it), or an api-key for a script/service (carrying a fixed set of gateway permissions). The bearerFormat: JWT label describes the person-login case.",
    });
  }

  add<
    P extends AnyObject | undefined,
    Q extends AnyObject | undefined,
    B extends z.ZodType | undefined,
    S extends z.ZodType | undefined = undefined,
  >(spec: RouteSpec<P, Q, B, S>): void {
    this.declared.push({ method: spec.method, path: spec.path });
    this.registry.registerPath(toOpenApi(spec));
    const expressPath = spec.path.replace(/\{(\w+)\}/g, ':$1');
    const limits = bodyLimitsOf(spec);
    const readBody: RequestHandler[] = limits ? [afterAdmission, capable(spec.capability), ...bodyReaders(limits)] : [];
    this.router[spec.method](expressPath, ...readBody, async (req, res) => {
      const admitted = admissionOf(res);
      const work = async () => {
        const principal = principalOf(res.locals);
        assertCapability(principal, spec.capability);
        const params = (spec.params ? parseRequestPart(spec.params, req.params, 'path') : {}) as Out<P>;
        const query = (spec.query ? parseRequestPart(spec.query, req.query, 'query') : {}) as Out<Q>;
        const body = (spec.body ? parseRequestPart(spec.body, req.body, 'body') : undefined) as Out<B>;
        return spec.handler({ params, query, body, principal, admitted, req, res });
      };
      let outcome: Promise<unknown>;
      if (spec.overlapsAdmission) {
        outcome = work();
        await firstRefusal([admitted, outcome]);
      } else {
        await admitted;
        outcome = work();
      }
      const result = await outcome;
      if (res.headersSent) return;
      if (spec.success.status === 204) return void res.status(204).end();
      res.status(spec.success.status).json(result);
    });
  }
}

type AnySpec = RouteSpec<AnyObject | undefined, AnyObject | undefined, z.ZodType | undefined, z.ZodType | undefined>;

function bodyLimitsOf(spec: AnySpec): BodyLimits | undefined {
  return spec.bodyLimits ?? (spec.body ? { jsonBytes: SMALL_JSON_BODY_BYTES } : undefined);
}

/** A refused request's body is never read: not before the rate limiter's verdict (whose refusal wins)… */
const afterAdmission: RequestHandler = async (_req, res, next) => {
  await admissionOf(res);
  next();
};

/** …nor for a caller without the route's capability. */
const capable =
  (capability: Capability): RequestHandler =>
  (_req, res, next) => {
    assertCapability(principalOf(res.locals), capability);
    next();
  };

function toOpenApi(spec: AnySpec): RouteConfig {
  const responses: RouteConfig['responses'] = {
    [spec.success.status]: spec.success.schema
      ? {
          description: spec.success.description,
          content: Object.fromEntries(
            (spec.success.contentTypes ?? ['application/json']).map((t) => [t, { schema: spec.success.schema! }]),
          ),
        }
      : { description: spec.success.description },
  };
  const errorCodes = new Set<ErrorCode>([
    'unauthorized',
    'forbidden',
    'internal',
    'unavailable',
    ...(bodyLimitsOf(spec) ? (['payload_too_large'] as const) : []),
    ...spec.errors,
  ]);
  for (const code of errorCodes) {
    const status = ERROR_STATUS[code];
    const existing = responses[status];
    const codes = existing && 'x-error-codes' in existing ? [...(existing['x-error-codes'] as string[]), code] : [code];
    responses[status] = {
      description: `\`${codes.join('`, `')}\``,
      'x-error-codes': codes,
      content: { 'application/json': { schema: ErrorEnvelope } },
    } as never;
  }
  return {
    method: spec.method,
    path: spec.path,
    operationId: spec.operationId,
    summary: spec.summary,
    description: spec.description,
    tags: spec.tags,
    security: [{ bearerAuth: [] }],
    request: {
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.body ? { body: { required: true, content: { 'application/json': { schema: spec.body } } } } : {}),
    },
    responses,
  };
}
