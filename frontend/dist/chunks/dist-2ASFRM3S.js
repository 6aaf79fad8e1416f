import{a,b,c,d}from"./chunk-CMZ2HPEI.js";import"./chunk-6CA4V3WA.js";import"./chunk-3KJQMCMM.js";export{d as css,b as cssCompletionSource,c as cssLanguage,a as defineCSSCompletionSource};
