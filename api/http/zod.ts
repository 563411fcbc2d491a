import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

/** zod with `.openapi()` available: every request and response schema is declared through this. */
export { z };
