/**
 * `npm run openapi`: writes shared/openapi/openapi.json, the document `GET /openapi.json` serves,
 * from the route table and the zod schemas (shared/openapi/document.ts). The function serves the
 * written file, so it carries neither zod nor the schemas; test/openapi/document.test.ts fails when
 * the file and the schemas disagree, and says to run this.
 */
import { writeFile } from 'node:fs/promises';
import { openApiDocument, openApiDocumentFile, renderOpenApiDocument } from '../shared/openapi/document';

await writeFile(openApiDocumentFile, renderOpenApiDocument(openApiDocument()));
console.info(`wrote ${openApiDocumentFile.pathname}`);
