/** What every route declares in its fastify `config`: its OpenAPI operationId (for logs and metrics). */
declare module "fastify" {
  interface FastifyContextConfig {
    operationId?: string;
    /** an ARM route (authenticated, api-versioned) rather than an ops endpoint */
    apiRoute?: boolean;
  }
}

export {};
