/** What every route declares in its fastify `config`: its OpenAPI operationId (for logs and metrics). */
declare module "fastify" {
  interface FastifyContextConfig {
    operationId?: string;
    /** an ARM route (authenticated, api-versioned) rather than an ops endpoint */
    apiRoute?: boolean;
    /** a 304 of this route is logged at debug, not info (agent polls: the fleet's steady "nothing new") */
    quietWhenUnchanged?: boolean;
  }
}

export {};
