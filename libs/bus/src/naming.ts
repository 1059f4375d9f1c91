/**
 * How relative contract names become NATS names under a prefix. Subjects: `<prefix>.<relative>`;
 * streams and buckets: upper/underscored (`INSITU_TASKS`), since JetStream names cannot hold dots.
 */
export class Naming {
  constructor(readonly prefix: string) {
    if (!/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$/.test(prefix)) throw new TypeError(`bad subject prefix ${prefix}`);
  }

  subject(relative: string): string {
    return `${this.prefix}.${relative}`;
  }

  stream(relative: string): string {
    return `${this.prefix}_${relative}`.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
  }

  bucket(relative: string): string {
    return `${this.prefix}_${relative}`.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  deadLetterStream(): string {
    return this.stream("dead_letters");
  }

  deadLetterSubject(relative: string): string {
    return `${this.prefix}.dead-letter.${relative}`;
  }
}
