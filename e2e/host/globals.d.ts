/** The mocha BDD globals the in-editor tests use (mocha itself is loaded at run time from the e2e tools folder). */
declare function describe(title: string, fn: () => void): void;
declare function it(title: string, fn: () => Promise<unknown> | void): void;
declare function before(fn: () => Promise<unknown> | void): void;
declare function after(fn: () => Promise<unknown> | void): void;
