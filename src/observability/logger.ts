// JSON lines on stdout, one object per event. Each reconcile logs through a child carrying
// namespace, name and reconcileId, so one pass can be followed with a grep.
import { randomBytes } from 'node:crypto';
import winston, { type Logger } from 'winston';

export type { Logger };

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', component = 'portforward-operator'): Logger {
  return winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { component },
    transports: [new winston.transports.Console()],
  });
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}

export function reconcileLogger(log: Logger, key: string): Logger {
  const [namespace, name] = key.split('/', 2);
  return log.child({ namespace, name, reconcileId: randomBytes(4).toString('hex') });
}

