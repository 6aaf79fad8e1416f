import{a,b,c,d}from"./chunk-Z3QOKH62.js";export{a as javascript,b as json,c as jsonld,d as typescript};
