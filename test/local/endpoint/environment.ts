/**
 * Sets environment variables for the clients a test constructs (the SDK reads AWS_ENDPOINT_URL and
 * the credentials when a client is made); the function returned puts back what was there.
 */
export function setEnvironment(variables: Readonly<Record<string, string>>): () => void {
  const before = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  return () => {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}
